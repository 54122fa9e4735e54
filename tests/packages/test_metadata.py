import re
import unicodedata

import packaging.metadata
import pytest
import trove_classifiers
from django.http import QueryDict
from packaging.version import Version

import packages.metadata
from packages.metadata import MetadataError, validate_upload_metadata


def query(**fields) -> QueryDict:
    """A form as Django parses it; list values become repeated fields."""
    form = QueryDict(mutable=True)
    for key, value in fields.items():
        if isinstance(value, list):
            form.setlist(key, value)
        else:
            form[key] = value
    return form


BASE = {"metadata_version": "2.4", "name": "Sample.Project", "version": "1.0"}


def valid(**fields) -> QueryDict:
    return query(**{**BASE, **fields})


def test_minimal_form_gives_name_version_and_empty_fields():
    metadata = validate_upload_metadata(valid())
    assert metadata.name == "Sample.Project"
    assert metadata.version == Version("1.0")
    assert metadata.metadata_version == "2.4"
    assert metadata.fields["summary"] == ""
    assert metadata.fields["requires_dist"] == []
    assert metadata.fields["project_urls"] == []


def test_canonical_version_drops_trailing_zeros():
    assert validate_upload_metadata(valid(version="1.0.0")).canonical_version == "1"


def test_required_fields_are_trimmed():
    metadata = validate_upload_metadata(valid(name="  demo \n", version=" 2.0 "))
    assert metadata.name == "demo"
    assert metadata.version == Version("2.0")


def test_description_keeps_its_whitespace():
    text = "\n  Indented code\n\nTrailing blank line\n\n"
    assert validate_upload_metadata(valid(description=text)).fields["description"] == text


def test_other_single_fields_are_trimmed():
    metadata = validate_upload_metadata(valid(summary="  A summary \n", author=" Ada "))
    assert metadata.fields["summary"] == "A summary"
    assert metadata.fields["author"] == "Ada"


def test_keywords_sent_split_are_joined():
    metadata = validate_upload_metadata(valid(keywords=["web, http", " cli ", ""]))
    assert metadata.fields["keywords"] == "web, http, cli"


def test_keywords_in_one_field_are_normalized():
    metadata = validate_upload_metadata(valid(keywords="a,b ,, c"))
    assert metadata.fields["keywords"] == "a, b, c"


def test_list_fields_keep_all_values_in_order_and_drop_blanks():
    metadata = validate_upload_metadata(
        valid(requires_dist=["requests>=2", "  ", 'tomli; python_version < "3.11"'])
    )
    assert metadata.fields["requires_dist"] == ["requests>=2", 'tomli; python_version < "3.11"']


def test_license_file_singular_and_plural_are_merged():
    metadata = validate_upload_metadata(
        valid(license_file=["LICENSE"], license_files=["NOTICE"], license_expression="MIT")
    )
    assert metadata.fields["license_files"] == ["LICENSE", "NOTICE"]
    assert metadata.fields["license_expression"] == "MIT"


def test_project_urls_become_label_url_pairs():
    metadata = validate_upload_metadata(
        valid(project_urls=["Homepage, https://example.org", "Source,https://git.example.org/x"])
    )
    assert metadata.fields["project_urls"] == [
        ["Homepage", "https://example.org"],
        ["Source", "https://git.example.org/x"],
    ]


def test_dynamic_is_accepted_from_metadata_2_2():
    metadata = validate_upload_metadata(valid(metadata_version="2.2", dynamic=["Requires-Dist"]))
    assert metadata.fields["dynamic"] == ["Requires-Dist"]


def test_plain_dict_form_is_accepted():
    metadata = validate_upload_metadata(
        {**BASE, "classifiers": "Topic :: Utilities", "requires_dist": ["attrs"]}
    )
    assert metadata.fields["classifiers"] == ["Topic :: Utilities"]
    assert metadata.fields["requires_dist"] == ["attrs"]


def test_plain_dict_with_a_list_for_a_single_field_counts_as_missing():
    with pytest.raises(
        MetadataError, match=r"invalid value for Name\. Error: This field is required"
    ):
        validate_upload_metadata({**BASE, "name": ["demo"]})


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"metadata_version": ""}, "'' is an invalid value for Metadata-Version"),
        ({"metadata_version": "9.9"}, "'9.9' is an invalid value for Metadata-Version"),
        ({"name": ""}, "'' is an invalid value for Name. Error: This field is required"),
        ({"name": "-bad"}, "'-bad' is an invalid value for Name"),
        ({"name": "a b"}, "'a b' is an invalid value for Name"),
        ({"name": "ünïcode"}, "'ünïcode' is an invalid value for Name"),
        ({"version": ""}, "'' is an invalid value for Version. Error: This field is required"),
        ({"version": "one"}, "'one' is an invalid value for Version"),
        ({"version": "1.0+local"}, "Can't use PEP 440 local versions"),
        ({"requires_dist": ["requests >>= 2"]}, "Invalid value for Requires-Dist"),
        ({"requires_python": ">=3.x"}, "'>=3.x' is an invalid value for Requires-Python"),
        (
            {"metadata_version": "2.1", "dynamic": ["Requires-Dist"]},
            "introduced in metadata version 2.2, not 2.1",
        ),
        ({"summary": "two\nlines"}, "is an invalid value for Summary"),
        ({"summary": "carriage\rreturn"}, "is an invalid value for Summary"),
        ({"summary": "x" * 513}, "Use 512 characters or fewer"),
        (
            {"project_urls": ["no comma"]},
            "'no comma' is an invalid value for Project-URL",
        ),
        ({"project_urls": [", https://example.org"]}, "invalid value for Project-URL"),
        ({"project_urls": ["Label,  "]}, "invalid value for Project-URL"),
        ({"description_content_type": "text/x-unknown"}, "for Description-Content-Type"),
        ({"license_expression": "Not A License"}, "for License-Expression"),
    ],
)
def test_invalid_metadata_is_refused_with_the_field_named(fields, message):
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(valid(**fields))
    assert message in str(info.value)


def test_summary_line_break_is_refused_where_packaging_lets_it_through(monkeypatch):
    # packaging before 26 refused only "\n" in Summary; pyproject allows 24.2.
    monkeypatch.setattr(packaging.metadata, "_LINE_BOUNDARY_RE", re.compile("\n"))
    with pytest.raises(MetadataError, match="Error: Use a single line only"):
        validate_upload_metadata(valid(summary="carriage\rreturn"))


def test_summary_of_exactly_512_characters_is_accepted():
    assert validate_upload_metadata(valid(summary="x" * 512)).fields["summary"] == "x" * 512


def test_error_message_points_to_the_specification():
    with pytest.raises(MetadataError, match=r"packaging\.python\.org/specifications/core-metadata"):
        validate_upload_metadata(valid(requires_python="bogus"))


def test_checks_run_in_a_fixed_order_metadata_version_first():
    with pytest.raises(MetadataError, match="Metadata-Version"):
        validate_upload_metadata(query(name="-bad", version="nope"))


def test_name_is_checked_before_version():
    with pytest.raises(MetadataError, match="for Name"):
        validate_upload_metadata(valid(name="-bad", version="nope"))


def test_first_error_of_several_fields_follows_the_report_order():
    form = valid(requires_dist=["!!!"], requires_python="bogus", provides_extra=["-x-"])
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(form)
    assert "for Requires-Python" in str(info.value)


def test_metadata_version_error_comes_before_other_field_errors():
    form = valid(metadata_version="9.9", requires_python="bogus")
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(form)
    assert "for Metadata-Version" in str(info.value)


def test_first_error_is_the_same_on_every_call():
    form = valid(requires_dist=["!!!"], provides_extra=["-x-"], license_files=["/abs"])
    messages = set()
    for _ in range(5):
        with pytest.raises(MetadataError) as info:
            validate_upload_metadata(form)
        messages.add(str(info.value))
    assert len(messages) == 1
    assert "for Requires-Dist" in messages.pop()


# --- Classifiers ----------------------------------------------------------------------


def test_valid_classifiers_are_kept_in_order():
    chosen = ["Topic :: Utilities", "Programming Language :: Python :: 3"]
    assert validate_upload_metadata(valid(classifiers=chosen)).fields["classifiers"] == chosen


def test_many_valid_classifiers_pass():
    chosen = sorted(trove_classifiers.classifiers)[:300]
    assert validate_upload_metadata(valid(classifiers=chosen)).fields["classifiers"] == chosen


def test_unknown_classifier_is_refused():
    form = valid(classifiers=["Topic :: Utilities", "Foo :: Bar", "Also :: Bad"])
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(form)
    assert str(info.value) == (
        "Invalid value for classifiers. Error: Classifier 'Foo :: Bar' is not a valid "
        "classifier. See /help/#classifiers for more information."
    )


def test_classifiers_are_compared_exactly():
    with pytest.raises(MetadataError, match="'topic :: utilities' is not a valid classifier"):
        validate_upload_metadata(valid(classifiers=["topic :: utilities"]))


def test_deprecated_classifier_is_refused_with_its_replacement():
    deprecated, replacement = "Natural Language :: Ukranian", "Natural Language :: Ukrainian"
    assert trove_classifiers.deprecated_classifiers[deprecated] == [replacement]
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(valid(classifiers=[deprecated]))
    assert str(info.value) == (
        "Invalid value for classifiers. Error: Classifier 'Natural Language :: Ukranian' has "
        "been deprecated, use the following classifier(s) instead: "
        "'Natural Language :: Ukrainian'. See /help/#classifiers for more information."
    )


def test_deprecated_classifier_without_replacement_is_refused():
    deprecated = "Topic :: Communications :: Chat :: AOL Instant Messenger"
    assert trove_classifiers.deprecated_classifiers[deprecated] == []
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(valid(classifiers=[deprecated]))
    assert str(info.value) == (
        f"Invalid value for classifiers. Error: Classifier {deprecated!r} has been "
        "deprecated. See /help/#classifiers for more information."
    )


def test_deprecated_classifier_with_several_replacements_names_them_all(monkeypatch):
    monkeypatch.setitem(
        packages.metadata.deprecated_classifiers, "Old :: One", ["New :: A", "New :: B"]
    )
    with pytest.raises(MetadataError, match=r"instead: 'New :: A', 'New :: B'\. See"):
        validate_upload_metadata(valid(classifiers=["Old :: One"]))


def test_other_field_errors_are_reported_before_classifiers():
    form = valid(classifiers=["Foo :: Bar"], requires_python="bogus")
    with pytest.raises(MetadataError, match="for Requires-Python"):
        validate_upload_metadata(form)


# --- Characters, lengths, addresses, URLs ------------------------------------------------

ONE_LINE_FIELDS = [
    "summary",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "home_page",
    "download_url",
    "requires_python",
    "description_content_type",
    "license_expression",
]
LIST_FIELDS = [
    "classifiers",
    "platform",
    "supported_platform",
    "requires_dist",
    "provides_dist",
    "obsoletes_dist",
    "requires_external",
    "provides_extra",
    "dynamic",
    "license_file",
    "keywords",
    "project_urls",
]


@pytest.mark.parametrize("key", [*ONE_LINE_FIELDS, "description", "license", *LIST_FIELDS])
def test_nul_is_refused_in_every_field(key):
    value = "a\x00b"
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(valid(**{key: [value] if key in LIST_FIELDS else value}))
    message = str(info.value)
    assert message.startswith("'a\\x00b' is an invalid value for ")
    assert "Error: NUL characters are not allowed." in message
    assert message.isascii()


@pytest.mark.parametrize(
    ("key", "title"),
    [("summary", "Summary"), ("author", "Author"), ("classifiers", "Classifier")],
)
@pytest.mark.parametrize(
    ("char", "reason"),
    [
        ("\n", "Use a single line only."),
        ("\r", "Use a single line only."),
        ("\u2028", "Use a single line only."),
        ("\x1b", "Control characters such as '\\x1b' are not allowed."),
        ("\x7f", "Control characters such as '\\x7f' are not allowed."),
        ("\x85", "Control characters such as '\\x85' are not allowed."),
    ],
)
def test_control_characters_are_refused_in_one_line_fields(key, title, char, reason):
    value = f"bad{char}value"
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(valid(**{key: [value] if key in LIST_FIELDS else value}))
    assert f"is an invalid value for {title}. Error: {reason}" in str(info.value)


def test_tabs_and_unicode_are_fine_in_one_line_fields():
    metadata = validate_upload_metadata(valid(summary="Tabs\tand ünïcode ✓", author="Zoë"))
    assert metadata.fields["summary"] == "Tabs\tand ünïcode ✓"


def test_multiline_fields_keep_line_breaks_and_form_feeds():
    license_text = "GNU GENERAL PUBLIC LICENSE\n\x0c\nEnd of terms\r\n"
    metadata = validate_upload_metadata(
        valid(description="A \x1b[1mbold\x1b[0m README\n", license=license_text)
    )
    assert metadata.fields["license"] == license_text.strip()
    assert metadata.fields["description"] == "A \x1b[1mbold\x1b[0m README\n"


def test_long_values_are_shown_shortened():
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(valid(summary="x" * 1000))
    assert str(info.value).startswith(f"'{'x' * 30}...{'x' * 30}' is an invalid value for Summary")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"version": "1." + "0" * 99}, "for Version. Error: Use 100 characters or fewer."),
        # Written short, stored long: "1-1" is stored as "1.post1".
        ({"version": "1." + "1" * 94 + "-1"}, "for Version. Error: Use 100 characters or fewer."),
        (
            {"description_content_type": "text/plain; charset=UTF-8; x=" + "y" * 100},
            "for Description-Content-Type. Error: Use 128 characters or fewer.",
        ),
        ({"summary": "x" * 513}, "for Summary. Error: Use 512 characters or fewer."),
    ],
)
def test_values_longer_than_their_column_are_refused(fields, message):
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(valid(**fields))
    assert message in str(info.value)


def test_version_of_exactly_100_characters_is_accepted():
    version = "1." + "1" * 98
    assert str(validate_upload_metadata(valid(version=version)).version) == version


@pytest.mark.parametrize(
    "value",
    ["ada@example.org", "Ada Lovelace <ada@example.org>", '"Ada, L." <a@x.org>, bob@example.org'],
)
@pytest.mark.parametrize("key", ["author_email", "maintainer_email"])
def test_email_fields_with_addresses(key, value):
    assert validate_upload_metadata(valid(**{key: value})).fields[key] == value


@pytest.mark.parametrize(
    ("key", "title"), [("author_email", "Author-Email"), ("maintainer_email", "Maintainer-Email")]
)
@pytest.mark.parametrize("value", ["Ada Lovelace", "ada@", "<>", "ada@example.org, nobody"])
def test_email_fields_without_addresses_are_refused(key, title, value):
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(valid(**{key: value}))
    assert f"is an invalid value for {title}. Error: " in str(info.value)
    assert "Error: Use e-mail addresses, separated by commas" in str(info.value)


@pytest.mark.parametrize(
    ("key", "title"), [("home_page", "Home-Page"), ("download_url", "Download-URL")]
)
@pytest.mark.parametrize(
    "value",
    ["example.org", "ftp://example.org/x", "javascript:alert(1)", "https://", "http://[::1"],
)
def test_url_fields_that_are_not_urls_are_refused(key, title, value):
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(valid(**{key: value}))
    assert f"for {title}. Error: Use an http or https URL." in str(info.value)


def test_url_fields_with_urls():
    metadata = validate_upload_metadata(
        valid(home_page="https://example.org/x?y#z", download_url="http://intranet:8080/d")
    )
    assert metadata.fields["home_page"] == "https://example.org/x?y#z"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("Docs, example.org/docs", "Use an http or https URL."),
        ("Source, git+ssh://git@example.org/x", "Use an http or https URL."),
        ("x" * 33 + ", https://example.org", "Use 'Label, URL'"),
    ],
)
def test_project_urls_that_are_not_urls_are_refused(entry, reason):
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(valid(project_urls=[entry]))
    assert f"for Project-URL. Error: {reason}" in str(info.value)


def test_project_url_label_of_32_characters_is_accepted():
    entry = "x" * 32 + ", https://example.org"
    metadata = validate_upload_metadata(valid(project_urls=[entry]))
    assert metadata.fields["project_urls"] == [["x" * 32, "https://example.org"]]


@pytest.mark.parametrize(
    "requirement",
    ["foo @ https://example.org/foo.whl", 'foo @ file:///tmp/foo ; python_version > "3"'],
)
def test_requires_dist_with_a_direct_reference_is_refused(requirement):
    with pytest.raises(MetadataError) as info:
        validate_upload_metadata(valid(requires_dist=["attrs", requirement]))
    assert "for Requires-Dist. Error: Can't have direct dependency" in str(info.value)


@pytest.mark.parametrize("key", ["home_page", "download_url", "author_email", "license"])
def test_unknown_placeholders_of_distutils_are_dropped(key):
    metadata = validate_upload_metadata(valid(metadata_version="1.1", **{key: "UNKNOWN"}))
    assert metadata.fields[key] == ""


# --- Metadata versions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata_version", ["1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5"]
)
def test_every_metadata_version_of_the_public_index_is_accepted(metadata_version):
    metadata = validate_upload_metadata(valid(metadata_version=metadata_version))
    assert metadata.metadata_version == metadata_version


def test_metadata_2_0_may_use_the_fields_of_2_1():
    # As old bdist_wheel wrote them (mccabe 0.6.1, packaging 16.8).
    metadata = validate_upload_metadata(
        valid(
            metadata_version="2.0",
            provides_extra=["tests"],
            description_content_type="text/markdown",
        )
    )
    assert (metadata.metadata_version, metadata.fields["provides_extra"]) == ("2.0", ["tests"])


def test_metadata_2_0_may_not_use_later_fields():
    with pytest.raises(MetadataError, match=r"introduced in metadata version 2\.2"):
        validate_upload_metadata(valid(metadata_version="2.0", dynamic=["Requires-Dist"]))


@pytest.mark.parametrize("metadata_version", ["2.1", "2.2", "2.3"])
def test_license_fields_written_before_2_4_defined_them_are_accepted(metadata_version):
    # setuptools wrote License-File, hatchling License-Expression, into such metadata.
    metadata = validate_upload_metadata(
        valid(metadata_version=metadata_version, license_file=["LICENSE"], license_expression="MIT")
    )
    assert metadata.fields["license_files"] == ["LICENSE"]


def test_license_fields_are_still_validated_in_older_metadata():
    with pytest.raises(MetadataError, match="for License-File"):
        validate_upload_metadata(valid(metadata_version="2.1", license_file=["../LICENSE"]))


def test_every_control_character_but_tab_is_refused_in_a_summary():
    controls = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc"]
    assert len(controls) == 65
    for char in controls:
        if char == "\t":
            continue
        with pytest.raises(MetadataError, match="for Summary"):
            validate_upload_metadata(valid(summary=f"a{char}b"))
