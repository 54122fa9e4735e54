"""Core metadata from the upload form, validated field by field with
``packaging.metadata`` and then across fields.

twine and uv send the distribution's core metadata as form fields named after
the metadata keys (``requires_dist``, ``project_urls`` as "label, url", ...).
"""

import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from packaging.metadata import InvalidMetadata, Metadata, RawMetadata
from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version
from trove_classifiers import classifiers as known_classifiers
from trove_classifiers import deprecated_classifiers

from .models import Release
from .names import is_valid_project_name

SPEC_URL = "https://packaging.python.org/specifications/core-metadata"
CLASSIFIERS_HELP = "/help/#classifiers"

# Form field -> RawMetadata key, for fields with more than one value.
_LIST_FIELDS = {
    "classifiers": "classifiers",
    "platform": "platforms",
    "supported_platform": "supported_platforms",
    "requires_dist": "requires_dist",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires_external": "requires_external",
    "provides_extra": "provides_extra",
    "dynamic": "dynamic",
    # twine sends License-File as "license_file"; accept the plural too.
    "license_file": "license_files",
    "license_files": "license_files",
    # Metadata 1.1 fields that nothing reads any more, kept for validation.
    "requires": "requires",
    "provides": "provides",
    "obsoletes": "obsoletes",
}
_SINGLE_FIELDS = (
    "metadata_version",
    "name",
    "version",
    "summary",
    "description",
    "description_content_type",
    "home_page",
    "download_url",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "license",
    "license_expression",
    "requires_python",
)
# The order in which field errors are reported, so the first one is stable.
_REPORT_ORDER = ("metadata_version", "name", "version", *_SINGLE_FIELDS, *_LIST_FIELDS.values())
_FIELD_TITLES = {
    "metadata_version": "Metadata-Version",
    "requires_python": "Requires-Python",
    "requires_dist": "Requires-Dist",
    "home_page": "Home-Page",
    "download_url": "Download-URL",
    "project_urls": "Project-URL",
    "description_content_type": "Description-Content-Type",
    "license_expression": "License-Expression",
    "license_files": "License-File",
    "license_file": "License-File",
    "classifiers": "Classifier",
    "platform": "Platform",
    "supported_platform": "Supported-Platform",
    "keywords": "Keywords",
}
# Fields whose value may span lines: the README, and license texts that old
# metadata carries whole (form feeds included, as in the GPL's text).
_MULTILINE_FIELDS = {"description", "license"}
# Control characters (Unicode category Cc) but the tab, and the line and
# paragraph separators, which are not control characters.
_NOT_IN_ONE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAKS = {"\n", "\r", "\u2028", "\u2029"}
# packaging knows no 2.0 (PEP 426 was withdrawn), but bdist_wheel wrote it into
# thousands of wheels the public index hosts. Like the public index, validate
# them as the next real version, whose fields they use (Provides-Extra).
_VALIDATE_AS = {"2.0": "2.1"}
# License-File (setuptools since 2021) and License-Expression (hatchling) were
# written into 2.1 to 2.3 metadata before 2.4 defined them; thousands of files
# on the public index carry them. Their values are checked, their age is not.
_EARLY_FIELDS = ("license_files", "license_expression")
# Project-URL labels, as on the public index.
_MAX_LABEL_LENGTH = 32
# distutils wrote "UNKNOWN" for every optional field left out; the public index
# drops such values, and so do we (they are not addresses or URLs).
_UNKNOWN = "UNKNOWN"


class MetadataError(Exception):
    """A field of the upload's metadata is missing or invalid."""


@dataclass
class ReleaseMetadata:
    """What a release stores, already validated."""

    name: str
    version: Version
    metadata_version: str
    fields: dict = field(default_factory=dict)

    @property
    def canonical_version(self) -> str:
        return canonicalize_version(self.version)


def _title(key: str) -> str:
    return _FIELD_TITLES.get(key, key.replace("_", "-").title())


def _shown(value: str, limit: int = 60) -> str:
    """A user-supplied value for a message: quoted, ASCII-only, bounded."""
    if len(value) > limit:
        value = value[: limit // 2] + "..." + value[-limit // 2 :]
    return ascii(value)


def _invalid(key: str, value: str, reason: str) -> MetadataError:
    return MetadataError(
        f"{_shown(value)} is an invalid value for {_title(key)}. Error: {reason} "
        f"See {SPEC_URL} for more information."
    )


def _all_values(form, key: str) -> list[str]:
    values = form.getlist(key) if hasattr(form, "getlist") else form.get(key, [])
    if isinstance(values, str):
        values = [values]
    return [value for value in values if isinstance(value, str)]


def check_characters(form) -> None:
    """No NUL anywhere (PostgreSQL refuses it in text), and no control
    characters or line breaks in one-line fields (they break feeds, headers and
    the metadata file itself)."""
    keys = (*_SINGLE_FIELDS, *_LIST_FIELDS, "keywords", "project_urls")
    for key in keys:
        for value in _all_values(form, key):
            if "\x00" in value:
                raise _invalid(key, value, "NUL characters are not allowed.")
            if key in _MULTILINE_FIELDS:
                continue
            # Trimmed first, as the value is before it is stored.
            found = _NOT_IN_ONE_LINE.search(value.strip())
            if found is None:
                continue
            char = found.group()
            if char in _LINE_BREAKS:
                raise _invalid(key, value, "Use a single line only.")
            raise _invalid(key, value, f"Control characters such as {char!a} are not allowed.")


def _column_limits() -> dict[str, int]:
    """Release's text columns that have a length, read from the model so the
    rule follows the schema."""
    return {
        model_field.name: model_field.max_length
        for model_field in Release._meta.get_fields()
        if getattr(model_field, "max_length", None)
    }


def _check_length(key: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise _invalid(key, value, f"Use {limit} characters or fewer.")


def _check_addresses(key: str, value: str) -> None:
    for _name, address in email.utils.getaddresses([value]):
        try:
            validate_email(address)
        except ValidationError:
            raise _invalid(
                key,
                value,
                "Use e-mail addresses, separated by commas, such as "
                "'Ada Lovelace <ada@example.org>'.",
            ) from None


def _is_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and value.isprintable()


def _check_url(key: str, value: str) -> None:
    if not _is_url(value):
        raise _invalid(key, value, "Use an http or https URL.")


def _first_values(form: Mapping, key: str) -> str:
    value = form.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def _list_values(form, key: str) -> list[str]:
    return [value.strip() for value in _all_values(form, key) if value.strip()]


def _raw_from_form(form) -> RawMetadata:
    raw: dict = {}
    for key in _SINGLE_FIELDS:
        value = form.get(key, "")
        # The description keeps its whitespace; every other field is trimmed.
        value = value if key == "description" else value.strip()
        if value and value != _UNKNOWN:
            raw[key] = value
    for form_key, raw_key in _LIST_FIELDS.items():
        values = _list_values(form, form_key)
        if values:
            raw.setdefault(raw_key, []).extend(values)
    keywords = _list_values(form, "keywords")
    if keywords:
        # One comma-separated field in metadata; twine may send it split.
        raw["keywords"] = [k.strip() for k in ",".join(keywords).split(",") if k.strip()]
    urls = {}
    for entry in _list_values(form, "project_urls"):
        label, sep, url = entry.partition(",")
        if (
            not sep
            or not label.strip()
            or not url.strip()
            or len(label.strip()) > _MAX_LABEL_LENGTH
        ):
            raise _invalid(
                "project_urls",
                entry,
                f"Use 'Label, URL' with a label of at most {_MAX_LABEL_LENGTH} characters.",
            )
        _check_url("project_urls", url.strip())
        urls[label.strip()] = url.strip()
    if urls:
        raw["project_urls"] = urls
    return raw  # type: ignore[return-value]


def _raw_key(metadata_field: str) -> str:
    # packaging names fields as in the e-mail headers, lowercased.
    return metadata_field.replace("-", "_")


def _validate(raw: dict, metadata_version: str) -> tuple[Metadata | None, list]:
    """packaging's validation, as *metadata_version*, but for the fields that
    builders wrote before 2.4 standardized them, which are checked on their own."""
    main = {key: value for key, value in raw.items() if key not in _EARLY_FIELDS}
    main["metadata_version"] = metadata_version
    metadata, errors = None, []
    try:
        metadata = Metadata.from_raw(main, validate=True)
    except ExceptionGroup as group:
        errors += group.exceptions
    early = {key: raw[key] for key in _EARLY_FIELDS if key in raw}
    if early:
        try:
            Metadata.from_raw(
                {**early, "metadata_version": "2.4", "name": raw["name"], "version": raw["version"]}
            )
        except ExceptionGroup as group:
            errors += group.exceptions
    return metadata, errors


def _first_error(exceptions: list) -> InvalidMetadata:
    errors = [exc for exc in exceptions if isinstance(exc, InvalidMetadata)]

    def position(exc: InvalidMetadata) -> tuple[int, str]:
        key = _raw_key(exc.field)
        index = _REPORT_ORDER.index(key) if key in _REPORT_ORDER else len(_REPORT_ORDER)
        return index, str(exc)

    return min(errors, key=position)


def check_classifiers(values: list[str]) -> None:
    """Only the trove classifiers of the installed trove-classifiers release;
    a deprecated one is refused with its replacements named."""
    for value in values:
        if value in known_classifiers:
            continue
        if value in deprecated_classifiers:
            replacements = deprecated_classifiers[value]
            reason = f"Classifier {value!r} has been deprecated"
            if replacements:
                reason += ", use the following classifier(s) instead: " + ", ".join(
                    repr(replacement) for replacement in replacements
                )
        else:
            reason = f"Classifier {value!r} is not a valid classifier"
        raise MetadataError(
            f"Invalid value for classifiers. Error: {reason}. "
            f"See {CLASSIFIERS_HELP} for more information."
        )


def validate_upload_metadata(form) -> ReleaseMetadata:
    """Validate the form's metadata; MetadataError names the first bad field."""
    check_characters(form)
    name = _first_values(form, "name")
    version_text = _first_values(form, "version")
    metadata_version = _first_values(form, "metadata_version")
    # The three fields every upload needs, checked first with the public
    # index's wording because people search for these messages.
    if not metadata_version:
        raise MetadataError(
            f"'' is an invalid value for Metadata-Version. Error: This field is required. "
            f"See {SPEC_URL} for more information."
        )
    if not name:
        raise MetadataError(
            f"'' is an invalid value for Name. Error: This field is required. "
            f"See {SPEC_URL} for more information."
        )
    if not is_valid_project_name(name):
        raise MetadataError(
            f"{name!r} is an invalid value for Name. Error: Start and end with a letter or "
            f"numeral containing only ASCII numeric and '.', '_' and '-'. "
            f"See {SPEC_URL} for more information."
        )
    if not version_text:
        raise MetadataError(
            f"'' is an invalid value for Version. Error: This field is required. "
            f"See {SPEC_URL} for more information."
        )
    try:
        version = Version(version_text)
    except InvalidVersion:
        raise MetadataError(
            f"{version_text!r} is an invalid value for Version. Error: Start and end with a "
            f"letter or numeral containing only ASCII numeric and '.', '_' and '-'. "
            f"See https://peps.python.org/pep-0440/ for more information."
        ) from None
    if version.local is not None:
        raise MetadataError(
            f"{version_text!r} is an invalid value for Version. Error: Can't use PEP 440 "
            f"local versions. See {SPEC_URL} for more information."
        )
    limits = _column_limits()
    # Stored normalized and canonical, either of which can be longer than
    # written ("1-1" is "1.post1").
    for stored in (str(version), canonicalize_version(version)):
        _check_length("version", stored, limits["version"])

    raw = _raw_from_form(form)
    metadata, errors = _validate(raw, _VALIDATE_AS.get(metadata_version, metadata_version))
    if errors:
        error = _first_error(errors)
        key = _raw_key(error.field)
        value = raw.get(key)
        shown = f"{value!r} is an invalid value" if isinstance(value, str) else "Invalid value"
        raise MetadataError(
            f"{shown} for {_title(key)}. Error: {error}. See {SPEC_URL} for more information."
        ) from None

    for key, value in raw.items():
        if key in limits and isinstance(value, str):
            _check_length(key, value, limits[key])
    for key in ("author_email", "maintainer_email"):
        if key in raw:
            _check_addresses(key, raw[key])
    for key in ("home_page", "download_url"):
        if key in raw:
            _check_url(key, raw[key])
    for requirement in metadata.requires_dist or []:
        if requirement.url is not None:
            raise _invalid(
                "requires_dist",
                str(requirement),
                "Can't have direct dependency: use a name and a version specifier, not a URL.",
            )
    check_classifiers(raw.get("classifiers", []))
    summary = raw.get("summary", "")

    fields = {
        "summary": summary,
        "description": raw.get("description", ""),
        "description_content_type": raw.get("description_content_type", ""),
        "author": raw.get("author", ""),
        "author_email": raw.get("author_email", ""),
        "maintainer": raw.get("maintainer", ""),
        "maintainer_email": raw.get("maintainer_email", ""),
        "license": raw.get("license", ""),
        "license_expression": raw.get("license_expression", ""),
        "license_files": raw.get("license_files", []),
        "keywords": ", ".join(raw.get("keywords", [])),
        "classifiers": raw.get("classifiers", []),
        "platform": raw.get("platforms", []),
        "home_page": raw.get("home_page", ""),
        "download_url": raw.get("download_url", ""),
        "project_urls": [[label, url] for label, url in raw.get("project_urls", {}).items()],
        "requires_python": raw.get("requires_python", ""),
        "requires_dist": raw.get("requires_dist", []),
        "provides_extra": raw.get("provides_extra", []),
        "dynamic": raw.get("dynamic", []),
        "requires_external": raw.get("requires_external", []),
        "provides_dist": raw.get("provides_dist", []),
        "obsoletes_dist": raw.get("obsoletes_dist", []),
    }
    return ReleaseMetadata(
        name=name, version=version, metadata_version=metadata_version, fields=fields
    )
