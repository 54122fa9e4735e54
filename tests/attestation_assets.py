"""The real PEP 740 test data: the pypi-attestations 0.0.30 sdist from the
package registry carries published files with their real attestations under
test/assets/ (pypi_attestations-0.0.19.tar.gz from trailofbits/pypi-attestations'
release.yml, a gitlab.com-published sdist, a Google Cloud Build one, and
rfc8785-0.1.2's, signed by a person's e-mail identity).

Fetched with pip at test set-up, never committed: kept under test-artifacts/
(ignored by git) for the next run. A failed download fails the tests using it.
"""

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REQUIREMENT = "pypi-attestations==0.0.30"
SDIST = "pypi_attestations-0.0.30.tar.gz"
MEMBER_PREFIX = "pypi_attestations-0.0.30/test/assets/"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ASSETS = ARTIFACTS / "pypi-attestations-0.0.30-assets"

GITHUB_SDIST = "pypi_attestations-0.0.19.tar.gz"
GITLAB_SDIST = "gitlab_oidc_project-0.0.3.tar.gz"
GOOGLE_SDIST = "gcb_attestation_test-0.0.0.tar.gz"
EMAIL_WHEEL = "rfc8785-0.1.2-py3-none-any.whl"


def assets() -> Path:
    """The directory of test/assets/, downloading the sdist when no earlier run did."""
    if (ASSETS / f"{GITHUB_SDIST}.publish.attestation").exists():
        return ASSETS
    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ARTIFACTS) as work:
        result = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps"),
                *("--no-binary", ":all:", REQUIREMENT, "--dest", work),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"{REQUIREMENT} could not be fetched:\n{result.stderr}"
        unpacked = Path(work) / "assets"
        unpacked.mkdir()
        with tarfile.open(Path(work) / SDIST) as sdist:
            for member in sdist.getmembers():
                if member.isfile() and member.name.startswith(MEMBER_PREFIX):
                    member.name = member.name.removeprefix(MEMBER_PREFIX)
                    sdist.extract(member, unpacked, filter="data")
        try:
            # Atomic: another worker of a parallel run may be fetching it too.
            unpacked.rename(ASSETS)
        except OSError:
            if not (ASSETS / f"{GITHUB_SDIST}.publish.attestation").exists():
                raise
    return ASSETS
