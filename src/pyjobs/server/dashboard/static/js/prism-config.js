// Evaluated before Prism's core (imported first by highlight.js): Prism must not scan the page
// and highlight on its own; the dashboard asks it for tokens and builds the DOM itself.
globalThis.Prism = globalThis.Prism || {};
globalThis.Prism.manual = true;
