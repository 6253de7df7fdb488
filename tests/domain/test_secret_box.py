"""Sealed secrets: they open with the key and context that sealed them, and nothing else."""

import base64

import pytest

from domain.secret_box import SecretKeyMismatch, key_id, open_sealed, seal

KEY = "k" * 40
OTHER_KEY = "o" * 40
SECRET = "smtp-password-9f8e7d"


def test_a_sealed_secret_opens_with_its_key_and_context_and_keeps_only_last4_in_clear() -> None:
    sealed = seal(KEY, SECRET, "project:a:smtp.password")

    assert open_sealed(KEY, sealed, "project:a:smtp.password") == SECRET
    assert sealed.last4 == SECRET[-4:]
    assert sealed.key_id == key_id(KEY) != key_id(OTHER_KEY)
    assert SECRET not in sealed.model_dump_json()
    assert SECRET.encode() not in base64.b64decode(sealed.ciphertext)
    # A fresh nonce each time: the same secret never gives the same ciphertext.
    assert seal(KEY, SECRET, "c").ciphertext != seal(KEY, SECRET, "c").ciphertext


def test_another_secret_key_cannot_open_it_and_says_so() -> None:
    sealed = seal(KEY, SECRET, "project:a:smtp.password")

    with pytest.raises(SecretKeyMismatch, match="set the secret again"):
        open_sealed(OTHER_KEY, sealed, "project:a:smtp.password")


def test_a_ciphertext_moved_to_another_project_or_field_does_not_open() -> None:
    sealed = seal(KEY, SECRET, "project:a:smtp.password")

    with pytest.raises(SecretKeyMismatch):
        open_sealed(KEY, sealed, "project:b:smtp.password")
    with pytest.raises(SecretKeyMismatch):
        open_sealed(KEY, sealed, "project:a:twilio.authToken")


def test_short_secrets_show_no_last_four() -> None:
    assert seal(KEY, "hunter2", "c").last4 == ""


def test_sealing_without_a_secret_key_is_refused() -> None:
    with pytest.raises(ValueError, match="ENGAGE_SECRET_KEY"):
        seal("", SECRET, "c")


def test_after_a_rotation_the_previous_key_still_opens_what_it_sealed() -> None:
    sealed_before = seal(OTHER_KEY, SECRET, "c")
    sealed_after = seal(KEY, SECRET, "c")

    assert open_sealed([KEY, OTHER_KEY], sealed_before, "c") == SECRET
    assert open_sealed([KEY, OTHER_KEY], sealed_after, "c") == SECRET
    with pytest.raises(SecretKeyMismatch, match=key_id(OTHER_KEY)):
        open_sealed([KEY, ""], sealed_before, "c")
