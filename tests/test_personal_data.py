from campaign.personal_data import (
    canonical_email,
    decrypt_email,
    email_digest,
    encrypt_email,
    ip_digest,
)


def test_case_spaces_and_unicode_forms_give_one_canonical_address():
    spellings = [
        " Alice@Example.FR ",
        "alice@example.fr",
        "ALICE@EXAMPLE.FR\t",
        "ａｌｉｃｅ@example.fr",
    ]
    assert {canonical_email(spelling) for spelling in spellings} == {"alice@example.fr"}


def test_gmail_ignores_dots_and_tags_and_googlemail_is_gmail():
    spellings = [
        "a.lice+x@gmail.com",
        "alice@googlemail.com",
        "alice@gmail.com",
        "A.L.I.C.E@Gmail.com",
    ]
    assert {canonical_email(spelling) for spelling in spellings} == {"alice@gmail.com"}


def test_dots_and_tags_are_kept_for_domains_without_a_rule():
    assert canonical_email("a.lice+x@example.fr") == "a.lice+x@example.fr"
    assert canonical_email("a.lice@example.fr") != canonical_email("alice@example.fr")


def test_digest_is_keyed_and_equal_for_one_mailbox(app):
    first = email_digest(" Alice@Example.FR ")
    assert first == email_digest("alice@example.fr")
    assert first != email_digest("bob@example.fr")
    app.config["EMAIL_DIGEST_KEY"] = "another-key"
    assert email_digest("alice@example.fr") != first


def test_email_is_encrypted_and_decrypts_to_what_was_typed(app):
    ciphertext = encrypt_email(" Alice@Example.FR ")
    assert b"alice" not in ciphertext.lower()
    assert decrypt_email(ciphertext) == "Alice@Example.FR"


def test_ip_digest_does_not_contain_the_address(app):
    digest = ip_digest("203.0.113.7")
    assert "203.0.113.7" not in digest
    assert digest == ip_digest("203.0.113.7") != ip_digest("203.0.113.8")
