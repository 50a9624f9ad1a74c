"""The MariaDB/MySQL preset on the real daemon: a real login from the host decides readiness."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pytest_wasmcontainers.services.docker import DockerServices
from pytest_wasmcontainers.services.mariadb import for_mysql_login, start_mariadb
from pytest_wasmcontainers.services.mysql_login import MySQLLoginError, mysql_login, rsa_encrypt_password
from pytest_wasmcontainers.wait import wait_until_ready
from tests.support.services import unavailable


def test_mariadb_fixture_accepts_its_users(mariadb_image, mariadb):
    info = mysql_login("127.0.0.1", mariadb.port, "test", "test", "test")
    assert "MariaDB" in info.version
    mysql_login("127.0.0.1", mariadb.port, "root", "root")
    assert mariadb.url() == f"mysql://test:test@127.0.0.1:{mariadb.port}/test"
    assert mariadb.url("root") == f"mysql://root:root@127.0.0.1:{mariadb.port}/test"
    assert mariadb.resolve(3306) == ("127.0.0.1", mariadb.port)
    assert mariadb.container.image == mariadb_image


def test_wrong_credentials_are_refused(mariadb_image, mariadb):
    with pytest.raises(MySQLLoginError) as info:
        mysql_login("127.0.0.1", mariadb.port, "test", "wrong")
    assert info.value.code == 1045
    with pytest.raises(MySQLLoginError) as info:
        mysql_login("127.0.0.1", mariadb.port, "test", "test", "other_db")
    assert info.value.code in (1044, 1049)


def test_factory_settings_with_awkward_password(mariadb_image, mariadb_factory):
    pw = "p'w\\x\"$HOME`;"
    db = mariadb_factory(root_password="r00t", database="shop", user="app", password=pw)
    mysql_login("127.0.0.1", db.port, "app", pw, "shop")
    mysql_login("127.0.0.1", db.port, "root", "r00t", "shop")
    assert db.url().startswith("mysql://app:p%27w%5Cx%22%24HOME%60%3B@127.0.0.1:")


def test_mysql_aliases(mariadb_image, docker_container_factory):
    env = {
        "MYSQL_ROOT_PASSWORD": "rpw",
        "MYSQL_DATABASE": "orders",
        "MYSQL_USER": "u",
        "MYSQL_PASSWORD": "upw",
    }
    c = docker_container_factory(
        mariadb_image, env=env, ports=[3306], wait=for_mysql_login("u", "upw", "orders"), startup_timeout=120
    )
    mysql_login("127.0.0.1", c.host_port(3306), "root", "rpw", "orders")


def test_readiness_waits_for_the_app_user_after_root(mariadb_image, docker_services: DockerServices):
    # Root can log in before the application user exists (as with images that create accounts late):
    # readiness must keep trying the app user, not stop at the first answer from the server.
    db = start_mariadb(docker_services, image=mariadb_image, user="", database="late_db")
    try:
        mysql_login("127.0.0.1", db.port, "root", "root")
        strategy = for_mysql_login("late", "late-pw", "late_db")

        def create_user_later() -> None:
            time.sleep(1.5)
            sql = "CREATE USER 'late'@'%' IDENTIFIED BY 'late-pw'; GRANT ALL ON late_db.* TO 'late'@'%';"
            subprocess.run(
                ["docker", "exec", db.container.name, "mariadb", "-uroot", "-proot", "-e", sql],
                check=True,
                capture_output=True,
            )

        creator = threading.Thread(target=create_user_later)
        creator.start()
        seen: list[str] = []
        original = strategy.check

        def check(target: object) -> bool:
            ok = original(target)  # type: ignore[arg-type]
            seen.append(strategy.last_failure)
            return ok

        strategy.check = check  # type: ignore[method-assign]
        wait_until_ready(db.container, strategy, 60)
        creator.join()
        assert any("1045" in s for s in seen), seen
        mysql_login("127.0.0.1", db.port, "late", "late-pw", "late_db")
    finally:
        docker_services.stop(db.container)


def test_rsa_password_encryption_matches_openssl(tmp_path: Path):
    # caching_sha2_password's full authentication (MySQL 8 without TLS): checked against OpenSSL's
    # RSA-OAEP decryption, since no MySQL 8 image can be fetched here.
    if shutil.which("openssl") is None:
        unavailable("the openssl command is not installed (apt-get install openssl)")
    key = tmp_path / "key.pem"
    pub = tmp_path / "pub.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True
    )
    salt = bytes(range(1, 21))
    cipher = rsa_encrypt_password(pub.read_bytes(), b"s3cret-pw", salt)
    enc = tmp_path / "enc.bin"
    enc.write_bytes(cipher)
    plain = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-decrypt",
            "-inkey",
            str(key),
            "-in",
            str(enc),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
        ],
        check=True,
        capture_output=True,
    ).stdout
    assert bytes(b ^ salt[i % 20] for i, b in enumerate(plain)) == b"s3cret-pw\0"
