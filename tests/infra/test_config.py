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
