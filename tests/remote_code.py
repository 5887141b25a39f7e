"""Running code as a user without the package would: a fresh interpreter in which `import audiomae_hf` fails."""

import subprocess
import sys
from pathlib import Path


def run_without_the_package(script: str, working_directory: Path) -> str:
    """
    Run `script` in a fresh interpreter where `import audiomae_hf` raises ImportError, offline, with a bare environment
    (no PYTHONPATH, PATH only /usr/bin and /bin) and its own remote-code module cache, in `working_directory`; assert
    that it succeeds and return what it printed.
    """
    environment = {
        "HF_HUB_OFFLINE": "1",
        "HF_MODULES_CACHE": str(working_directory / "modules"),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import sys\nsys.modules['audiomae_hf'] = None\n" + script],
        cwd=working_directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
