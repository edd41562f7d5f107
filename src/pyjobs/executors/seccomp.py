"""A small seccomp-BPF generator: the deny list bwrap loads with ``--seccomp FD``.

libseccomp's Python binding is not a dependency, and the filter is simple enough to
assemble by hand: check the architecture, then compare the syscall number against a
deny list, with two argument checks (socket families, terminal-injection ioctls).
"""

import errno
import platform
import struct
from dataclasses import dataclass

# Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000

# Offsets in struct seccomp_data: nr, arch, then u64 args (little-endian: low word first).
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARG0_LO = 16
_OFF_ARG1_LO = 24

_X32_SYSCALL_BIT = 0x40000000

AF_NETLINK = 16
AF_PACKET = 17
AF_VSOCK = 40
DENIED_SOCKET_FAMILIES = (AF_NETLINK, AF_PACKET, AF_VSOCK)
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
DENIED_IOCTLS = (TIOCSTI, TIOCLINUX)


@dataclass(frozen=True)
class ArchTable:
    """Syscall numbers of one architecture, as the filter needs them."""

    audit_arch: int
    denied: dict[str, int]
    socket: int
    ioctl: int


# Syscalls a job never needs and that widen the kernel attack surface or escape the sandbox.
# io_uring/open_tree..mount_setattr share numbers on both arches (the unified table).
_COMMON = {
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
}

ARCHES: dict[str, ArchTable] = {
    "x86_64": ArchTable(
        audit_arch=0xC000003E,
        socket=41,
        ioctl=16,
        denied={
            "ptrace": 101,
            "mount": 165,
            "umount2": 166,
            "pivot_root": 155,
            "unshare": 272,
            "setns": 308,
            "keyctl": 250,
            "add_key": 248,
            "request_key": 249,
            "bpf": 321,
            "userfaultfd": 323,
            "perf_event_open": 298,
            "kexec_load": 246,
            "kexec_file_load": 320,
            "init_module": 175,
            "finit_module": 313,
            "delete_module": 176,
            "process_vm_readv": 310,
            "process_vm_writev": 311,
            **_COMMON,
        },
    ),
    "aarch64": ArchTable(
        audit_arch=0xC00000B7,
        socket=198,
        ioctl=29,
        denied={
            "ptrace": 117,
            "mount": 40,
            "umount2": 39,
            "pivot_root": 41,
            "unshare": 97,
            "setns": 268,
            "keyctl": 219,
            "add_key": 217,
            "request_key": 218,
            "bpf": 280,
            "userfaultfd": 282,
            "perf_event_open": 241,
            "kexec_load": 104,
            "kexec_file_load": 294,
            "init_module": 105,
            "finit_module": 273,
            "delete_module": 106,
            "process_vm_readv": 270,
            "process_vm_writev": 271,
            **_COMMON,
        },
    ),
}
ARCHES["arm64"] = ARCHES["aarch64"]

# An instruction whose jump targets are labels, resolved into relative offsets at the end.
_Insn = tuple[int, str | None, str | None, int]


def _assemble(insns: list[_Insn | str]) -> bytes:
    """Resolve label jumps (strings in the list mark label positions) into sock_filter bytes."""
    labels: dict[str, int] = {}
    code: list[_Insn] = []
    for item in insns:
        if isinstance(item, str):
            labels[item] = len(code)
        else:
            code.append(item)
    out = bytearray()
    for pc, (op, jt, jf, k) in enumerate(code):
        offsets = [0 if t is None else labels[t] - pc - 1 for t in (jt, jf)]
        if any(not 0 <= o <= 255 for o in offsets):
            raise ValueError("seccomp jump out of range")
        out += struct.pack("=HBBI", op, offsets[0], offsets[1], k)
    return bytes(out)


def build_filter(machine: str | None = None) -> bytes:
    """Return the deny-list BPF program for ``machine`` (default: this host's architecture)."""
    arch = ARCHES.get(machine or platform.machine())
    if arch is None:
        raise ValueError(f"no seccomp syscall table for architecture {machine!r}")
    insns: list[_Insn | str] = [
        (_LD_W_ABS, None, None, _OFF_ARCH),
        # Any other ABI (i386 via int 0x80 on x86_64, arm32 compat) would bypass the numbers.
        (_JEQ_K, "arch_ok", None, arch.audit_arch),
        (_RET_K, None, None, _RET_KILL_PROCESS),
        "arch_ok",
        (_LD_W_ABS, None, None, _OFF_NR),
    ]
    if arch.audit_arch == ARCHES["x86_64"].audit_arch:
        insns.append((_JGE_K, "deny", None, _X32_SYSCALL_BIT))
    insns += [(_JEQ_K, "deny", None, nr) for nr in sorted(arch.denied.values())]
    insns += [
        (_JEQ_K, "socket", None, arch.socket),
        (_JEQ_K, "ioctl", None, arch.ioctl),
        (_RET_K, None, None, _RET_ALLOW),
        "socket",
        (_LD_W_ABS, None, None, _OFF_ARG0_LO),
        *[(_JEQ_K, "deny", None, fam) for fam in DENIED_SOCKET_FAMILIES],
        (_RET_K, None, None, _RET_ALLOW),
        "ioctl",
        # The kernel truncates the ioctl request to 32 bits, so comparing the low word is exact.
        (_LD_W_ABS, None, None, _OFF_ARG1_LO),
        *[(_JEQ_K, "deny", None, req) for req in DENIED_IOCTLS],
        (_RET_K, None, None, _RET_ALLOW),
        "deny",
        (_RET_K, None, None, _RET_ERRNO | errno.EPERM),
    ]
    return _assemble(insns)
