"""infra/config.py: what the environment may and may not say."""

import pytest

from infra.config import Config, ConfigError


def test_R34_local_certificates_url_is_refused_outside_a_local_stack():
    """ID tokens are checked against Google's own certificates in production: a configured
    certificates URL (the identity emulator's) is honoured only with FIRESTORE_EMULATOR_HOST."""
    env = {"GOOGLE_CLOUD_PROJECT": "p", "CALSYNC_GOOGLE_CERTS_URL": "http://127.0.0.1:1/certs"}
    with pytest.raises(ConfigError, match="local stack only"):
        Config.from_env(env)
    local = Config.from_env({**env, "FIRESTORE_EMULATOR_HOST": "127.0.0.1:2"})
    assert local.google_certs_url == "http://127.0.0.1:1/certs"
    assert Config.from_env({"GOOGLE_CLOUD_PROJECT": "p"}).google_certs_url == (
        "https://www.googleapis.com/oauth2/v1/certs"
    )


@pytest.mark.parametrize(
    "name, value",
    [
        pytest.param("CALSYNC_SF_SESSION_ID", "00Dxx!fixed", id="L7 fixed Salesforce session"),
        pytest.param("CALSYNC_SF_CA_CERT", "/tmp/emulator.pem", id="L7 emulator certificate"),
        pytest.param("CALSYNC_GOOGLE_AUTH_URL", "http://127.0.0.1:1", id="IAM and OAuth route"),
        pytest.param("CALSYNC_GOOGLE_CERTS_URL", "http://127.0.0.1:1/c", id="ID-token certs"),
    ],
)
def test_R34_local_stand_ins_are_refused_in_production(name, value):
    """A variable that points calsync at a local stand-in, or replaces its Salesforce login with
    a fixed session, fails the configuration outside a local stack instead of being honoured."""
    with pytest.raises(ConfigError, match=f"{name} is honoured on a local stack only"):
        Config.from_env({"GOOGLE_CLOUD_PROJECT": "p", name: value})
    local = Config.from_env(
        {"GOOGLE_CLOUD_PROJECT": "p", name: value, "FIRESTORE_EMULATOR_HOST": "h:1"}
    )
    assert value.rstrip("/") in {
        local.sf_session_id,
        local.sf_ca_cert,
        local.google_auth_url,
        local.google_certs_url,
    }


def test_the_runtime_account_is_read_for_keyless_delegation():
    env = {
        "GOOGLE_CLOUD_PROJECT": "p",
        "CALSYNC_RUNTIME_SERVICE_ACCOUNT": " Run@P.iam.gserviceaccount.com ",
    }
    assert Config.from_env(env).runtime_service_account == "run@p.iam.gserviceaccount.com"
