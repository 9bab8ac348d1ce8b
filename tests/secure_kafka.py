"""A throw-away Kafka broker that only speaks authenticated and encrypted listeners.

Not the shared local broker (9092): its own process, free ports and a temporary directory,
started from the same Maven Central jars as ``deploy.local.infra``. Listeners:

- ``SASL_PLAINTEXT`` (PLAIN, users in the JAAS config), also the inter-broker listener;
- ``SASL_SSL`` (PLAIN over TLS) and ``SSL`` (TLS only), with a certificate for ``127.0.0.1``
  signed by a CA made here with ``openssl``;
- ``CONTROLLER`` on loopback.

No PLAINTEXT listener a client could use: a client without credentials gets nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.local import infra

USERS = {"admin": "admin-secret-0", "intake": "intake-secret-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path) -> tuple[Path, Path]:
    """A CA and a broker certificate for ``127.0.0.1`` (and ``localhost``) it signed.

    Returns (CA certificate, broker PEM with the unencrypted PKCS#8 key and the certificate).
    """
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
             "ca.key", cwd=folder)  # fmt: skip
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2", "-subj",
             "/CN=complaints-test-ca", "-out", "ca.pem", cwd=folder)  # fmt: skip
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
             "broker.key", cwd=folder)  # fmt: skip
    _openssl("req", "-new", "-key", "broker.key", "-subj", "/CN=127.0.0.1", "-out",
             "broker.csr", cwd=folder)  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "san.ext", "-out",
             "broker.crt", cwd=folder)  # fmt: skip
    bundle = folder / "broker.pem"
    bundle.write_text((folder / "broker.key").read_text() + (folder / "broker.crt").read_text())
    return folder / "ca.pem", bundle


def _jaas(user: str) -> str:
    users = " ".join(f'user_{name}="{secret}"' for name, secret in USERS.items())
    return (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{user}" password="{USERS[user]}" {users};'
    )


@dataclass
class SecureBroker:
    """Where the throw-away broker listens, and its CA."""

    sasl_plaintext: str
    sasl_ssl: str
    ssl: str
    ca_file: Path
    process: subprocess.Popen[bytes]
    folder: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_secure_broker(folder: Path, *, timeout_s: float = 90.0) -> SecureBroker:
    """Format and start the broker in ``folder``; return once every listener accepts."""
    ca_file, bundle = make_certificates(folder / "tls")
    ports = {name: _free_port() for name in ("SASL_PLAINTEXT", "SASL_SSL", "SSL", "CONTROLLER")}
    host = "127.0.0.1"
    listeners = ",".join(f"{name}://{host}:{port}" for name, port in ports.items())
    advertised = ",".join(
        f"{name}://{host}:{port}" for name, port in ports.items() if name != "CONTROLLER"
    )
    log_dir = folder / "log"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{host}:{ports['CONTROLLER']}",
        "listeners": listeners,
        "advertised.listeners": advertised,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": (
            "CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL"
        ),
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": _jaas("admin"),
        "listener.name.sasl_ssl.plain.sasl.jaas.config": _jaas("admin"),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(bundle),
        "ssl.client.auth": "none",
        "log.dirs": str(log_dir),
        "num.partitions": "3",
        **infra.SINGLE_NODE,
    }
    properties = folder / "server.properties"
    properties.write_text("".join(f"{k}={v}\n" for k, v in props.items()))

    cfg = infra.InfraConfig.from_env()
    java = infra._java()
    classpath = f"{infra.ensure_kafka_jars(cfg)}/*"
    tool = [java, "-Xmx128m", "-cp", classpath, "kafka.tools.StorageTool"]
    subprocess.run(
        [*tool, "format", "--standalone", "-t", "c2VjdXJlLWJyb2tlci10ZQ", "-c", str(properties)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (folder / "logs").mkdir(exist_ok=True)
    out = (folder / "logs" / "kafka.out").open("ab")
    try:
        process = subprocess.Popen(
            [
                java,
                "-Xms256m",
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-Djava.awt.headless=true",
                f"-Dkafka.logs.dir={folder / 'logs'}",
                f"-Dlog4j2.configurationFile={infra.KAFKA_LOG4J_CONFIG}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(properties),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=True,
        )
    finally:
        out.close()
    broker = SecureBroker(
        sasl_plaintext=f"{host}:{ports['SASL_PLAINTEXT']}",
        sasl_ssl=f"{host}:{ports['SASL_SSL']}",
        ssl=f"{host}:{ports['SSL']}",
        ca_file=ca_file,
        process=process,
        folder=folder,
    )
    deadline = time.monotonic() + timeout_s
    pending = {port for name, port in ports.items() if name != "CONTROLLER"}
    while pending:
        if process.poll() is not None:
            raise RuntimeError(
                f"secure test broker exited ({process.returncode}):\n"
                + infra._tail(folder / "logs" / "server.log")
                + infra._tail(folder / "logs" / "kafka.out")
            )
        if time.monotonic() > deadline:
            broker.stop()
            raise RuntimeError(
                "secure test broker not listening in time:\n"
                + infra._tail(folder / "logs" / "server.log")
            )
        pending = {p for p in pending if not infra._port_open(host, p)}
        time.sleep(0.25)
    return broker
