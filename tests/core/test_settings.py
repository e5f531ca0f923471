"""Settings: defaults of docs/rules.md, Settings, validation that names the setting, and overrides."""

import dataclasses

import pytest

from core.settings import (
    SPECS,
    SettingError,
    Settings,
    conflicts,
    parse_cli_value,
    resolve,
    to_storable,
    unknown_setting,
    validate,
)


def test_defaults_are_the_seeds():
    """docs/rules.md, Settings: window 14/60, autosave off, Safe Description on, everything else off."""
    settings, problems = resolve(None)
    assert problems == []
    assert settings == Settings()
    assert (settings.window_past_days, settings.window_future_days) == (14, 60)
    assert settings.autosave_meetings is False and settings.autosave_appointments is False
    assert settings.save_internal_meetings is False
    assert settings.safe_description is True
    assert settings.smart_auto_sharing is False
    assert settings.recurring_enabled is False
    assert settings.sync_unanswered_and_declined is False
    assert settings.delete_from_calendar is False
    assert settings.auto_create_unresolved == "off"
    assert settings.max_deletes_per_session == 20
    assert (settings.save_color, settings.unsync_color, settings.error_color) == ("9", "8", "11")


def test_catalogue_and_dataclass_agree():
    names = [f.name for f in dataclasses.fields(Settings)]
    assert names == [spec.name for spec in SPECS]
    for spec in SPECS:
        assert getattr(Settings(), spec.name) == spec.default, spec.name


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        pytest.param("window_past_dayz", 3, "unknown setting 'window_past_dayz'", id="unknown name"),
        pytest.param("window_past_days", "14", "'window_past_days' must be a whole number", id="string for int"),
        pytest.param("window_past_days", True, "'window_past_days' must be a whole number", id="bool for int"),
        pytest.param("autosave_meetings", "yes", "'autosave_meetings' must be true or false", id="string for bool"),
        pytest.param("internal_domains", "example.com", "'internal_domains' must be a list", id="string for list"),
        pytest.param("internal_domains", ["not a domain"], "'internal_domains' 'not a domain' is not a mail domain", id="bad domain"),
        pytest.param("private_items", "secret", "'private_items' must be one of", id="bad choice"),
        pytest.param("save_color", "12", "'save_color' must be a Google event colour id", id="colour out of range"),
    ],
)  # fmt: skip
def test_validate_refuses_with_the_setting_named(name, value, message):
    with pytest.raises(SettingError, match=message):
        validate(name, value)


def test_validate_normalises():
    assert validate("internal_domains", ["Example.COM", "@corp.example.org"]) == (
        "example.com",
        "corp.example.org",
    )
    assert validate("save_color", 9) == "9"


def test_org_only_setting_refused_per_user():
    with pytest.raises(SettingError, match="org-wide"):
        validate("internal_domains", ["example.com"], for_user=True)


def test_invalid_stored_values_are_reported_and_the_last_valid_value_stays():
    """docs/rules.md, Settings: a wrong name or type is reported; nothing crashes; the valid value stays in force."""
    org = {"window_past_days": 7, "autosave_meetings": "on", "colour": "9"}
    user = {"window_past_days": 3, "autosave_meetings": 1, "autosave_appointments": True}
    settings, problems = resolve(org, user, user="ann@example.com")
    assert settings.window_past_days == 7  # org-only: the user's value is refused
    assert settings.autosave_meetings is False  # neither document had a valid value
    assert settings.autosave_appointments is True
    reported = {(p.source, p.name) for p in problems}
    assert reported == {
        ("org", "autosave_meetings"),
        ("org", "colour"),
        ("ann@example.com", "window_past_days"),
        ("ann@example.com", "autosave_meetings"),
    }


def test_user_blocklists_add_to_the_orgs():
    settings, _ = resolve(
        {"blocklist_keywords": ["personal"]}, {"blocklist_keywords": ["gym", "personal"]}
    )
    assert settings.blocklist_keywords == ("personal", "gym")


def test_cli_values_are_json_when_they_parse():
    assert parse_cli_value("true") is True
    assert parse_cli_value('["a.com"]') == ["a.com"]
    assert parse_cli_value("contact") == "contact"


def test_public_calendars_round_trip_as_objects():
    raw = [{"sf_calendar_id": "023x", "google_calendar": "team@example.com", "color": 5}]
    value = validate("sf_public_calendars", raw)
    assert to_storable(value, "sf_public_calendars") == [
        {"sf_calendar_id": "023x", "google_calendar": "team@example.com", "color": "5"}
    ]


def test_deletion_guard_floor_setting():
    """R-37: the half-of-mapped-items rule applies from `deletion_guard_min_deletes` deletes on."""
    assert Settings().deletion_guard_min_deletes == 3
    assert validate("deletion_guard_min_deletes", 1) == 1
    with pytest.raises(SettingError, match="deletion_guard_min_deletes"):
        validate("deletion_guard_min_deletes", 0)


@pytest.mark.parametrize(
    ("values", "clash"),
    [
        pytest.param({}, [], id="defaults differ"),
        pytest.param({"save_color": "8"}, ["save_color and unsync_color"], id="R-18 save = unsync"),
        pytest.param({"error_color": "9"}, ["save_color and error_color"], id="R-02 save = error"),
        pytest.param({"unsync_color": "11"}, ["unsync_color and error_color"], id="unsync = error"),
        pytest.param({"save_color": "5", "unsync_color": "5", "error_color": "5"},
                     ["save_color and unsync_color", "save_color and error_color",
                      "unsync_color and error_color"], id="all three"),
    ],
)  # fmt: skip
def test_R02_R18_label_colours_must_differ(values, clash):
    found = conflicts(resolve(values)[0])
    assert [f.split(" would")[0] for f in found] == clash


def test_unknown_setting_suggests_the_closest_names():
    with pytest.raises(SettingError, match=r"did you mean 'window_past_days'"):
        validate("windw_past_days", 3)
    assert "did you mean" not in unknown_setting("zzz")


def test_R32_admins_are_addresses_set_org_wide():
    """R-32: the dashboard's admins are an org setting: a list of addresses, normalised; a
    user may not give themselves the right."""
    assert validate("admins", [" Root@Example.COM "]) == ("root@example.com",)
    for bad in ("root@example.com", ["not an address"], ["@example.com"]):
        with pytest.raises(SettingError, match="'admins'"):
            validate("admins", bad)
    with pytest.raises(SettingError, match="org-wide"):
        validate("admins", ["root@example.com"], for_user=True)
