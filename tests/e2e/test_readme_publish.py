"""The README's publish and install commands, run as written, on what current
build backends make.

A project is built by each of hatchling, flit_core and setuptools at their
current releases (``uv build`` fetches them from the package registry, as a
user's build does), uploaded with the README's twine commands and installed back
with its pip command. Only the server's address, the token, the dist directory
and the project name are filled in; the rest is the README's text, so a README
whose commands stop working fails here.

The twine of the README lives in a virtual environment of its own under a
HOME kept in .cache/ (ignored by git), so later runs only check for a newer
twine. Builds share uv's cache there too.
"""

import fcntl
import re
import shlex
import sys
import zipfile
from pathlib import Path

import pytest
from uv import find_uv_bin

from tests.liveserver import REPO

from .conftest import describe, run

pytestmark = pytest.mark.e2e

README = REPO / "README.md"
CACHE = REPO / ".cache" / "e2e-readme"
README_URL = "http://127.0.0.1:8000"
README_DIST = "/path/to/your/project/dist/*"
README_VENV = "/tmp/try"

# Backend -> the [build-system] table of its project. No upper bounds: the point
# is what the current releases write.
BACKENDS = {
    "hatchling": '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n',
    "flit_core": (
        '[build-system]\nrequires = ["flit_core>=3.12,<4"]\nbuild-backend = "flit_core.buildapi"\n'
    ),
    "setuptools": (
        '[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n'
    ),
}


def readme_blocks(section: str) -> list[str]:
    """The ```sh blocks of the README's ``## <section>``, in order."""
    text = README.read_text()
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else None]
    return re.findall(r"```sh\n(.*?)```", body, re.DOTALL)


def readme_block(section: str, needle: str) -> str:
    blocks = [block for block in readme_blocks(section) if needle in block]
    assert len(blocks) == 1, f"README, {section}: expected one sh block with {needle!r}: {blocks}"
    return blocks[0]


def fill_in(block: str, **replacements: str) -> str:
    for old, new in replacements.items():
        assert old in block, f"the README's command no longer has {old!r}:\n{block}"
        block = block.replace(old, new)
    return block


def bash(script: str, *, env: dict[str, str], cwd=None, timeout: float = 300):
    return run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=cwd, timeout=timeout)


# --- Projects built by the real backends -------------------------------------------------


def project_name(backend: str) -> str:
    return f"readme-{backend.replace('_', '-')}-demo"


def write_project(root: Path, backend: str) -> Path:
    name = project_name(backend)
    module = name.replace("-", "_")
    project = root / backend
    (project / "src" / module).mkdir(parents=True)
    # flit reads the version and summary from the module itself.
    (project / "src" / module / "__init__.py").write_text(
        f'"""A project built by {backend}."""\n\n__version__ = "1.0"\nBACKEND = "{backend}"\n'
    )
    (project / "README.md").write_text(f"# {name}\n\nBuilt by {backend}.\n")
    # A license expression (PEP 639): the backends then write metadata 2.4 or later.
    (project / "pyproject.toml").write_text(
        BACKENDS[backend]
        + "\n[project]\n"
        + f'name = "{name}"\nversion = "1.0"\ndescription = "Built by {backend}"\n'
        + 'readme = "README.md"\nlicense = "MIT"\nrequires-python = ">=3.11"\n'
        + ("\n[tool.flit.module]\n" + f'name = "{module}"\n' if backend == "flit_core" else "")
    )
    return project


@pytest.fixture(scope="session")
def built(tmp_path_factory, client_env) -> dict[str, Path]:
    """Backend -> the dist/ directory of its project (wheel and sdist)."""
    root = tmp_path_factory.mktemp("readme-projects")
    env = {key: value for key, value in client_env.items() if key != "UV_NO_CACHE"}
    env["UV_CACHE_DIR"] = str(CACHE / "uv")
    dists = {}
    for backend in BACKENDS:
        project = write_project(root, backend)
        result = run(
            [find_uv_bin(), "build", "--python", sys.executable, "--out-dir", "dist", project],
            env=env,
            cwd=project,
            timeout=600,
        )
        assert result.returncode == 0, describe(result)
        dists[backend] = project / "dist"
    return dists


def wheel_metadata(dist_dir: Path) -> str:
    (wheel,) = dist_dir.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return archive.read(name).decode()


def metadata_version(metadata: str) -> tuple[int, ...]:
    match = re.search(r"^Metadata-Version: (\S+)$", metadata, re.MULTILINE)
    assert match, metadata
    return tuple(int(part) for part in match.group(1).split("."))


# --- The README's commands ---------------------------------------------------------------


@pytest.fixture(scope="session")
def readme_token(server) -> str:
    """The token the README's first commands make, run in the repository with the
    server's settings (its database)."""
    block = readme_block("Publish your first package", "create_api_token")
    result = bash(block + '\nprintf "%s" "$TOKEN"\n', env=server.env, cwd=REPO, timeout=120)
    assert result.returncode == 0, describe(result)
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("pypi-"), describe(result)
    return token


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_readme_commands_publish_and_install_what_current_backends_build(
    backend, server, readme_token, built, client_env, tmp_path
):
    # Would catch: README commands that fail on what people build today (the
    # pinned twine 6.1 refused metadata 2.5 on the client's side), and an index
    # that refuses the metadata versions current backends write.
    metadata = wheel_metadata(built[backend])
    assert metadata_version(metadata) >= (2, 4), metadata

    tool_home = CACHE / "home"
    tool_home.mkdir(parents=True, exist_ok=True)
    upload = fill_in(
        readme_block("Publish your first package", "twine upload"),
        **{
            README_URL: server.url,
            README_DIST: f"{shlex.quote(str(built[backend]))}/*",
        },
    )
    # One twine venv under tool_home for every test; pip would break it if two
    # test processes (make test's xdist workers) made or upgraded it at once.
    with open(CACHE / "home.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = bash(upload, env={**client_env, "HOME": str(tool_home), "TOKEN": readme_token})
    assert result.returncode == 0, describe(result)

    name = project_name(backend)
    venv = tmp_path / "try"
    install = fill_in(
        readme_block("Install from it", "-m venv"),
        **{README_URL: server.url, README_VENV: str(venv), "my-package": name},
    )
    result = bash(install, env=client_env)
    assert result.returncode == 0, describe(result)
    # From the server under test and nowhere else: client_env hides every other index.
    assert f"{server.url}/simple/" in result.stdout + result.stderr, describe(result)

    module = name.replace("-", "_")
    result = run(
        [venv / "bin" / "python", "-c", f"import {module}; print({module}.BACKEND)"],
        env=client_env,
    )
    assert result.returncode == 0, describe(result)
    assert result.stdout.strip() == backend
    (installed,) = venv.glob(f"lib/python*/site-packages/{module}-1.0.dist-info/METADATA")
    assert installed.read_text() == metadata
