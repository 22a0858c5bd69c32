"""A real OpenLDAP ``slapd`` for the LDAP connector's tests (Debian's ``slapd`` and
``ldap-utils``; ``.ci/run`` installs them).

``Slapd`` runs slapd on free ports of 127.0.0.1 with a configuration, an mdb database, a
pid file and TLS material all in one temporary directory (no path of the system's own
slapd is used, so AppArmor's slapd profile, which allows only /etc/ldap and /var/lib/ldap,
never gets in the way). The directory is loaded with ``slapadd`` before the first start:

    dc=example,dc=org
      cn=confidp,ou=services   the service account confidp binds as (SERVICE_DN)
      ou=people                inetOrgPerson users (PEOPLE), passwords hashed by slappasswd
      ou=groups                groupOfNames (GROUPS), members by DN

Access: anonymous may only bind (authenticate); a bound user reads everything but passwords.
So confidp's searches need the service account, as in a real directory.

It listens on ``ldap://`` (StartTLS offered) and ``ldaps://``, with a certificate for
127.0.0.1 and localhost issued by a test CA made here with ``cryptography``
(``ca_path``). Tests stop and restart it (LDAP down), freeze it with SIGSTOP (LDAP slow:
connections are accepted by the kernel, nothing answers), and change entries with
``ldapmodify``/``ldapdelete`` as the root DN.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import free_port, wait_until

BASE_DN = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{BASE_DN}"
ROOT_PASSWORD = "root-secret"
SERVICE_DN = f"cn=confidp,ou=services,{BASE_DN}"
SERVICE_PASSWORD = "service-secret"
PEOPLE_DN = f"ou=people,{BASE_DN}"
GROUPS_DN = f"ou=groups,{BASE_DN}"

_SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
_MODULES = Path("/usr/lib/ldap")


@dataclass(frozen=True)
class Person:
    uid: str
    password: str
    cn: str
    mail: str
    groups: tuple[str, ...] = ()

    @property
    def dn(self) -> str:
        return f"uid={self.uid},{PEOPLE_DN}"


# A name with characters a filter must escape (RFC 4515 §3: "*", "(", ")", "\\")
PEOPLE = (
    Person("ada", "analytical-engine", "Ada Lovelace", "ada@example.org", ("staff", "admins")),
    Person("brian", "kernighan-2", "Brian Kernighan", "brian@example.org", ("staff",)),
    Person("carol", "contractor-3", "Carol Contractor", "carol@example.org", ("contractors",)),
    Person("dave", "directory-4", "Dave Deleted", "dave@example.org", ("staff",)),
    Person("eve", "throttled-5", "Eve Guesser", "eve@example.org", ("staff",)),
    Person("star*(x)\\", "escaped-6", "Star Escaped", "star@example.org", ("staff",)),
)
GROUPS = ("staff", "admins", "contractors")


def _escape_dn_value(value: str) -> str:
    """RFC 4514 §2.4, for the few characters the test names use."""
    return "".join(f"\\{c}" if c in ',+"\\<>;=' else c for c in value)


def slappasswd(password: str) -> str:
    """``{SSHA}`` as slapd's own tool hashes it."""
    return subprocess.run(["slappasswd", "-h", "{SSHA}", "-s", password], check=True,
                          capture_output=True, text=True).stdout.strip()


def directory_ldif(people: tuple[Person, ...] = PEOPLE) -> str:
    entries = [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\n"
        "o: Example\n",
        f"dn: ou=services,{BASE_DN}\nobjectClass: organizationalUnit\nou: services\n",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: confidp\nuserPassword: {slappasswd(SERVICE_PASSWORD)}\n",
        f"dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS_DN}\nobjectClass: organizationalUnit\nou: groups\n",
    ]
    for person in people:
        entries.append(
            f"dn: uid={_escape_dn_value(person.uid)},{PEOPLE_DN}\nobjectClass: inetOrgPerson\n"
            f"uid: {person.uid}\ncn: {person.cn}\nsn: {person.cn.split()[-1]}\n"
            f"mail: {person.mail}\nuserPassword: {slappasswd(person.password)}\n")
    for group in GROUPS:
        members = [p for p in people if group in p.groups]
        lines = "".join(f"member: uid={_escape_dn_value(p.uid)},{PEOPLE_DN}\n"
                        for p in members)
        entries.append(f"dn: cn={group},{GROUPS_DN}\nobjectClass: groupOfNames\ncn: {group}\n"
                       f"{lines}")
    return "\n".join(entries)


@dataclass(frozen=True)
class TestCA:
    """A CA and a server certificate for 127.0.0.1 and localhost, as PEM files."""

    __test__ = False  # not a test class

    ca_path: Path
    cert_path: Path
    key_path: Path

    @classmethod
    def make(cls, directory: Path, name: str = "Test LDAP CA") -> TestCA:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(
                  digital_signature=True, content_commitment=False, key_encipherment=False,
                  data_encipherment=False, key_agreement=False, key_cert_sign=True,
                  crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        directory.mkdir(parents=True, exist_ok=True)
        paths = cls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
        paths.ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        paths.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths.key_path.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        return paths


class Slapd:
    """slapd with everything under ``directory`` (see the module's docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.ldaps_port = free_port(avoid=self.port)
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.ldaps_url = f"ldaps://127.0.0.1:{self.ldaps_port}"
        self.tls = TestCA.make(directory / "tls")
        self.config = directory / "slapd.conf"
        self.database = directory / "db"
        self.log_path = directory / "slapd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._configure()
        self._load()

    @property
    def ca_path(self) -> Path:
        return self.tls.ca_path

    def _configure(self) -> None:
        schemas = "".join(f"include /etc/ldap/schema/{name}.schema\n" for name in _SCHEMAS)
        self.database.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f"{schemas}"
            f"modulepath {_MODULES}\nmoduleload back_mdb\n"
            f"pidfile {self.directory / 'slapd.pid'}\n"
            f"argsfile {self.directory / 'slapd.args'}\n"
            f"TLSCACertificateFile {self.tls.ca_path}\n"
            f"TLSCertificateFile {self.tls.cert_path}\n"
            f"TLSCertificateKeyFile {self.tls.key_path}\n"
            "database mdb\n"
            f"suffix \"{BASE_DN}\"\nrootdn \"{ROOT_DN}\"\nrootpw {slappasswd(ROOT_PASSWORD)}\n"
            f"directory {self.database}\nmaxsize 16777216\n"
            "index objectClass,uid,member eq\n"
            "access to attrs=userPassword by anonymous auth by * none\n"
            "access to * by users read by * none\n")

    def _load(self) -> None:
        ldif = self.directory / "directory.ldif"
        ldif.write_text(directory_ldif())
        subprocess.run(["slapadd", "-f", str(self.config), "-l", str(ldif)], check=True,
                       capture_output=True)

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            # -d 0: stay in the foreground (a child the test can signal), logging nothing
            self.process = subprocess.Popen(
                ["slapd", "-f", str(self.config), "-h", f"{self.url} {self.ldaps_url}",
                 "-d", "0"], stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._answers, timeout=15)

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"slapd exited with {self.process.returncode}: "
                                 f"{self.log_path.read_text(errors='replace')}")
        return self._tool("ldapwhoami", check=False).returncode == 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections (the kernel's backlog), nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def _tool(self, name: str, *args: str, stdin: str | None = None,
              check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([name, "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD,
                               *args], input=stdin, capture_output=True, text=True,
                              check=check, timeout=10)

    def modify(self, ldif: str) -> None:
        """``ldapmodify`` as the root DN."""
        self._tool("ldapmodify", stdin=ldif)

    def delete(self, dn: str) -> None:
        self._tool("ldapdelete", dn)

    def add_person(self, person: Person) -> None:
        entry = [line for line in directory_ldif((person,)).split("\n\n")
                 if line.startswith("dn: uid=")]
        self._tool("ldapadd", stdin=entry[0] + "\n")

    def remove_from_group(self, person: Person, group: str) -> None:
        self.modify(f"dn: cn={group},{GROUPS_DN}\nchangetype: modify\ndelete: member\n"
                    f"member: {person.dn}\n")

    def add_to_group(self, person: Person, group: str) -> None:
        self.modify(f"dn: cn={group},{GROUPS_DN}\nchangetype: modify\nadd: member\n"
                    f"member: {person.dn}\n")


def require_slapd() -> None:
    """slapd and ldap-utils must exist in CI; elsewhere the LDAP tests skip, loudly."""
    missing = [tool for tool in ("slapd", "slapadd", "slappasswd", "ldapwhoami", "ldapmodify")
               if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing in CI: .ci/run must install slapd "
                        "and ldap-utils")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install slapd ldap-utils): "
                    "LDAP tests NOT run")


@pytest.fixture(scope="module", name="slapd")
def slapd_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """One slapd for a test module (started once: the suite stays fast)."""
    require_slapd()
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


BIND_PASSWORD_ENV = "LDAP_BIND_PASSWORD"


def connector_spec(server: Slapd, **overrides: Any) -> dict[str, Any]:
    """A tenant file's ``ldap`` connector for ``server`` (plain ldap:// on 127.0.0.1),
    its bind password in the environment variable ``BIND_PASSWORD_ENV``."""
    spec: dict[str, Any] = {
        "id": "corp-ldap", "type": "ldap", "name": "Corporate directory",
        "url": server.url, "allow_plaintext": True, "bind_dn": SERVICE_DN,
        "bind_password": {"env": BIND_PASSWORD_ENV}, "connect_timeout": "2s",
        "timeout": "2s",
        "user_search": {"base_dn": PEOPLE_DN, "filter": "(objectClass=inetOrgPerson)"},
        "group_search": {"base_dn": GROUPS_DN},
    }
    spec.update(overrides)
    return spec


def person(uid: str) -> Person:
    return next(p for p in PEOPLE if p.uid == uid)
