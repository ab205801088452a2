"""`rtoc attach` is a thin client: it loads neither the logger kernel nor the server (issue 12)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# What a remote UI must never import: the logger's own layers.
KERNEL_AND_SERVER = (
    "rtoc_tui.core",
    "rtoc_tui.server",
    "rtoc_tui.storage",
    "rtoc_tui.scripting",
    "rtoc_tui.transfer",
    "rtoc_tui.runtime",
    "rtoc_tui.client.local",
)


def test_rtoc_attach_imports_neither_kernel_nor_server() -> None:
    # The real console-script path up to the point where the UI would take the terminal: the
    # stand-in run_tui records what is loaded by then (the RemoteClient included).
    code = textwrap.dedent(
        f"""
        import sys
        import rtoc_tui.ui.app as ui_app

        async def run_tui(client, config):
            assert type(client).__name__ == "RemoteClient", client
            print("LOADED", sorted(m for m in sys.modules if m.startswith({KERNEL_AND_SERVER!r})))

        ui_app.run_tui = run_tui
        from rtoc_tui.cli import main
        sys.argv = ["rtoc", "attach", "127.0.0.1:9"]
        main()
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout, out.stdout
