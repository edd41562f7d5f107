"""A broad matrix of tasks and options: every manifest test runs over all of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyjobs.manifests import ManifestOptions, RunRef
from pyjobs.spec import MAX_CODE_BYTES, TaskSpec

SHA_A, SHA_B = "0" * 64, "f" * 64

TRICKY_CODE = (
    "import os, sys\n"
    "print('single \\' and double \" quotes', \"$HOME ${HOME} $(id) `id`\")\n"
    "print('{{workflow.name}} {{=1+1}} {{inputs.parameters.x}}')\n"
    "print('''PYJOBS_DATA\nEOF\n''')  # heredoc markers\n"
    "print('héllo wörld ✓ 日本語 🐍', '\\\\', r'\\n')\n"
    "sys.exit(0)\n"
)


@dataclass(frozen=True)
class Case:
    """One task, rendered with some options, for some run (or none: a preview)."""

    spec: TaskSpec
    options: ManifestOptions = field(default_factory=ManifestOptions)
    run: RunRef | None = None
    golden: bool = True  # huge inputs are checked but not pinned in a file


CASES: dict[str, Case] = {
    "minimal": Case(TaskSpec.parse({"python_code": "print(1)"})),
    "numpy": Case(
        TaskSpec.parse(
            {
                "python_code": "import numpy; print(numpy.arange(10).sum())",
                "dependencies": ["numpy"],
            }
        ),
        run=RunRef("0192f5a2c3d44e0f8a1b2c3d4e5f6a7b", 1),
    ),
    "dependencies_extras_specifiers_markers": Case(
        TaskSpec.parse(
            {
                "python_code": "print('deps')",
                "dependencies": [
                    "pandas[excel,performance]>=2.0,<3",
                    'tomli; python_version < "3.11"',
                    "requests[socks] ~= 2.31",
                    "Django===4.2.1",
                ],
            }
        )
    ),
    "requirements_file": Case(
        TaskSpec.parse(
            {
                "python_code": "import pandas",
                "requirements_file": (
                    "# the original POC's example\n"
                    "pandas>=2.0.0\n"
                    "numpy>=1.24.0  # arrays\n\n"
                    f"six==1.16.0 \\\n  --hash=sha256:{SHA_A} \\\n  --hash=sha256:{SHA_B}\n"
                ),
                "dependencies": "rich",
            }
        )
    ),
    "limits": Case(
        TaskSpec.parse({"python_code": "x", "timeout_seconds": 60, "memory_mb": 512, "cpu": 1.5}),
        run=RunRef("t-limits", 3),
    ),
    "cpu_fraction_only": Case(TaskSpec.parse({"python_code": "x", "cpu": 0.25})),
    "env_network_namespace": Case(
        TaskSpec.parse(
            {
                "python_code": "import os; print(os.environ['GREETING'])",
                "env": {"GREETING": "hi $(USER) {{workflow.name}}\nsecond line", "EMPTY": ""},
                "network": False,
                "namespace": "team-data",
            }
        )
    ),
    "tricky_code": Case(TaskSpec.parse({"python_code": TRICKY_CODE})),
    "deployment_options": Case(
        TaskSpec.parse({"python_code": "print(1)", "dependencies": "six"}),
        options=ManifestOptions(
            image="registry.example.invalid/pyjobs/runner:1.0",
            namespace="jobs",
            service_account="jobs-runner",
            run_as_user=4242,
            ttl_seconds=600,
            pod_gc_delay="5m",
            uv_cache_pvc="pyjobs-uv-cache",
            results_pvc="pyjobs-results",
        ),
        run=RunRef("t-opts", 12),
    ),
    "largest_code": Case(
        TaskSpec.parse({"python_code": "#" * (MAX_CODE_BYTES - 9) + "\nprint(1)"}),
        golden=False,
    ),
    "many_dependencies": Case(
        TaskSpec.parse(
            {"python_code": "1", "dependencies": [f"package-{i}>={i}.0" for i in range(200)]}
        ),
        golden=False,
    ),
}
