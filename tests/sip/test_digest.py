"""Digest authentication: RFC vectors, server verification, client side."""

from __future__ import annotations

import pytest

from clickphone.sip.auth import (
    DigestServer,
    build_authorization,
    compute_ha1,
    compute_response,
    parse_auth_params,
    parse_challenge,
)

SECRET = b"0123456789abcdef0123456789abcdef"
REALM = "pbx.example.com"
PASSWORDS = {"alice": "wonderland", "bob": "builder"}


def lookup(username: str, algorithm: str) -> str | None:
    password = PASSWORDS.get(username)
    return None if password is None else compute_ha1(username, REALM, password, algorithm)


# -- RFC test vectors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_section_3_9_1(algorithm: str, expected: str) -> None:
    challenge = parse_challenge(
        'Digest realm="http-auth@example.org", qop="auth, auth-int", '
        f"algorithm={algorithm}, "
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    assert challenge.qop == ("auth", "auth-int")
    value = build_authorization(
        challenge,
        "GET",
        "/dir/index.html",
        "Mufasa",
        "Circle of Life",
        1,
        "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    scheme, params = parse_auth_params(value)
    assert scheme == "Digest"
    assert params["response"] == expected
    assert params["nc"] == "00000001"
    assert params["qop"] == "auth"
    assert params["opaque"] == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"


def test_rfc2617_section_3_5() -> None:
    ha1 = compute_ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    response = compute_response(
        "MD5",
        ha1,
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "GET",
        "/dir/index.html",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def test_sha512_256_is_supported() -> None:
    ha1 = compute_ha1("u", "r", "p", "SHA-512-256")
    assert len(ha1) == 64
    assert ha1 != compute_ha1("u", "r", "p", "SHA-256")
    with pytest.raises(ValueError):
        compute_ha1("u", "r", "p", "SHA-1")


# -- server ---------------------------------------------------------------------------------


def answer(
    server: DigestServer,
    now: float,
    *,
    algorithm: str = "MD5",
    username: str = "alice",
    password: str = "wonderland",
    nc: int = 1,
    method: str = "REGISTER",
    uri: str = "sip:pbx.example.com",
) -> str:
    (value,) = server.challenge_headers([algorithm], now)
    return build_authorization(parse_challenge(value), method, uri, username, password, nc, "c1")


def test_challenge_headers_in_given_order() -> None:
    server = DigestServer(REALM, SECRET)
    values = server.challenge_headers(["SHA-256", "md5"], 1000.0)
    challenges = [parse_challenge(v) for v in values]
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]
    assert all(c.realm == REALM and c.qop == ("auth",) and not c.stale for c in challenges)
    assert challenges[0].nonce == challenges[1].nonce
    assert parse_challenge(server.challenge_headers(["MD5"], 0.0, stale=True)[0]).stale
    with pytest.raises(ValueError):
        server.challenge_headers(["SHA-1"], 0.0)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "SHA-512-256"])
def test_valid_credentials(algorithm: str) -> None:
    server = DigestServer(REALM, SECRET)
    auth = answer(server, 1000.0, algorithm=algorithm)
    result = server.verify("REGISTER", auth, lookup, 1010.0, request_uri="sip:pbx.example.com")
    assert (result.ok, result.username, result.stale, result.algorithm) == (
        True,
        "alice",
        False,
        algorithm,
    )


def test_wrong_password_and_unknown_user_look_the_same() -> None:
    server = DigestServer(REALM, SECRET)
    calls: list[tuple[str, str]] = []

    def counting_lookup(username: str, algorithm: str) -> str | None:
        calls.append((username, algorithm))
        return lookup(username, algorithm)

    wrong = server.verify("REGISTER", answer(server, 0.0, password="nope"), counting_lookup, 1.0)
    unknown = server.verify(
        "REGISTER", answer(server, 0.0, username="mallory", password="x"), counting_lookup, 1.0
    )
    assert (wrong.ok, wrong.stale, wrong.reason) == (False, False, "invalid credentials")
    assert (unknown.ok, unknown.stale, unknown.reason) == (wrong.ok, wrong.stale, wrong.reason)
    assert unknown.username == "mallory"
    assert calls == [("alice", "MD5"), ("mallory", "MD5")]


def test_unknown_user_cannot_log_in_with_the_dummy_ha1() -> None:
    server = DigestServer(REALM, SECRET)
    auth = answer(server, 0.0, username="ghost", password="")
    assert not server.verify("REGISTER", auth, lambda u, a: None, 1.0).ok


def test_expired_nonce_is_stale_only_when_credentials_are_right() -> None:
    server = DigestServer(REALM, SECRET, nonce_ttl=300.0)
    good = server.verify("REGISTER", answer(server, 0.0), lookup, 301.0)
    assert (good.ok, good.stale, good.reason) == (False, True, "stale nonce")
    bad = server.verify("REGISTER", answer(server, 0.0, password="x"), lookup, 301.0)
    assert (bad.ok, bad.stale) == (False, False)
    assert server.verify("REGISTER", answer(server, 0.0), lookup, 299.0).ok


def test_forged_and_foreign_nonces_are_rejected() -> None:
    server = DigestServer(REALM, SECRET)
    other = DigestServer(REALM, b"another-secret-of-32-bytes......")
    foreign = server.verify("REGISTER", answer(other, 0.0), lookup, 1.0)
    assert (foreign.ok, foreign.stale, foreign.reason) == (False, False, "invalid nonce")

    (value,) = server.challenge_headers(["MD5"], 0.0)
    challenge = parse_challenge(value)
    tampered_nonce = challenge.nonce[:5] + ("A" if challenge.nonce[5] != "A" else "B")
    tampered_nonce += challenge.nonce[6:]
    forged = build_authorization(
        parse_challenge(value.replace(challenge.nonce, tampered_nonce)),
        "REGISTER",
        "sip:pbx.example.com",
        "alice",
        "wonderland",
        1,
        "c",
    )
    assert server.verify("REGISTER", forged, lookup, 1.0).reason == "invalid nonce"
    made_up = forged.replace(tampered_nonce, "abc")
    assert server.verify("REGISTER", made_up, lookup, 1.0).reason == "invalid nonce"


def test_same_realm_other_server_instance_accepts_nonce() -> None:
    """Stateless nonces: another node with the same secret verifies them."""
    node_a, node_b = DigestServer(REALM, SECRET), DigestServer(REALM, SECRET)
    assert node_b.verify("REGISTER", answer(node_a, 0.0), lookup, 1.0).ok


def test_replayed_nonce_count_is_refused() -> None:
    server = DigestServer(REALM, SECRET)
    (value,) = server.challenge_headers(["MD5"], 0.0)
    challenge = parse_challenge(value)

    def auth(nc: int) -> str:
        return build_authorization(
            challenge, "INVITE", "sip:bob@x", "alice", "wonderland", nc, "cn"
        )

    assert server.verify("INVITE", auth(1), lookup, 1.0).ok
    replay = server.verify("INVITE", auth(1), lookup, 2.0)
    assert (replay.ok, replay.stale, replay.reason) == (False, True, "nonce count reused")
    assert server.verify("INVITE", auth(2), lookup, 3.0).ok


def test_checks_on_realm_uri_algorithm_and_format() -> None:
    server = DigestServer(REALM, SECRET)
    auth = answer(server, 0.0, uri="sip:pbx.example.com")
    assert (
        server.verify("REGISTER", auth, lookup, 1.0, request_uri="sip:other.example.com").reason
        == "uri mismatch"
    )
    # equal per RFC 3261 URI comparison
    assert server.verify("REGISTER", auth, lookup, 1.0, request_uri="sip:PBX.example.com").ok
    assert server.verify("INVITE", auth, lookup, 1.0).reason == "invalid credentials"
    other_realm = auth.replace(f'realm="{REALM}"', 'realm="evil"')
    assert server.verify("REGISTER", other_realm, lookup, 1.0).reason == "wrong realm"
    sha = answer(server, 0.0, algorithm="SHA-256")
    assert (
        server.verify("REGISTER", sha, lookup, 1.0, algorithms=["MD5"]).reason
        == "unsupported algorithm"
    )
    bad_alg = auth.replace("algorithm=MD5", "algorithm=SHA-1")
    assert server.verify("REGISTER", bad_alg, lookup, 1.0).reason == "unsupported algorithm"
    bad_nc = auth.replace("nc=00000001", "nc=1")
    assert server.verify("REGISTER", bad_nc, lookup, 1.0).reason == "bad nc or cnonce"
    int_qop = auth.replace("qop=auth", "qop=auth-int")
    assert server.verify("REGISTER", int_qop, lookup, 1.0).reason == "unsupported qop"
    assert server.verify("REGISTER", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", lookup, 1.0).reason == (
        "unsupported auth scheme"
    )
    assert server.verify("REGISTER", "NoOneKnowsThisScheme opaque-data=here", lookup, 1.0).reason
    assert server.verify("REGISTER", 'Digest username="x', lookup, 1.0).reason == (
        "malformed credentials"
    )
    assert server.verify("REGISTER", 'Digest username="alice"', lookup, 1.0).reason.startswith(
        "missing"
    )


def test_legacy_md5_without_qop() -> None:
    server = DigestServer(REALM, SECRET)
    (value,) = server.challenge_headers(["MD5"], 0.0)
    challenge = parse_challenge(value.replace(', qop="auth"', ""))
    assert challenge.qop == ()
    auth = build_authorization(
        challenge, "REGISTER", "sip:pbx.example.com", "alice", "wonderland", 1, "unused"
    )
    assert "qop" not in auth and "cnonce" not in auth
    assert server.verify("REGISTER", auth, lookup, 1.0).ok

    (sha_value,) = server.challenge_headers(["SHA-256"], 0.0)
    sha = parse_challenge(sha_value.replace(', qop="auth"', ""))
    sha_auth = build_authorization(
        sha, "REGISTER", "sip:pbx.example.com", "alice", "wonderland", 1, "x"
    )
    assert server.verify("REGISTER", sha_auth, lookup, 1.0).reason == "qop required"


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError):
        DigestServer(REALM, b"short")


def test_parse_challenge_errors() -> None:
    with pytest.raises(ValueError):
        parse_challenge('Basic realm="x"')
    with pytest.raises(ValueError):
        parse_challenge('Digest realm="x"')
    with pytest.raises(ValueError):
        parse_challenge('Digest realm="x", realm="y", nonce="n"')
    c = parse_challenge('Digest realm="a \\"quoted\\" realm",nonce=abc,stale=TRUE')
    assert (c.realm, c.nonce, c.stale, c.algorithm) == ('a "quoted" realm', "abc", True, "MD5")
