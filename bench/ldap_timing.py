"""How long an LDAP password check takes, and whether an unknown username answers as fast as
a known one with a wrong password (issue 12, Step 7, the ldap connector).

Starts a real slapd on 127.0.0.1 (tests/ldap_support.py: mdb, the test directory) and, in
one run, alternately times ``confidp.identity.ldap_directory.authenticate`` (service bind,
user search, user bind, group search: what a sign-in does, off the event loop) for:

- a known user with the right password (a sign-in);
- a known user with a wrong password;
- an unknown username (which still costs one bind, as a DN that cannot exist).

It prints each median and the unknown/wrong ratio: near 1.0 means a guesser cannot tell an
existing username from the time of the answer. Figures on a shared, loaded machine are
noisy: read the ratio measured in the same run; the lead takes the final figures on a quiet
machine.

    python bench/ldap_timing.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.ldap_support import (
    GROUPS_DN,
    PEOPLE_DN,
    SERVICE_DN,
    SERVICE_PASSWORD,
    Slapd,
    person,
)

from confidp.identity import ldap_directory
from confidp.identity.ldap_settings import settings_of
from confidp.model import Secret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as directory:
        slapd = Slapd(Path(directory))
        slapd.start()
        try:
            settings = settings_of({
                "url": slapd.url, "start_tls": False, "connect_timeout": "5s",
                "timeout": "10s", "max_concurrent": 1, "revalidate_interval": "0s",
                "bind_dn": SERVICE_DN, "allowed_groups": [],
                "user_search": {"base_dn": PEOPLE_DN, "filter": "(objectClass=inetOrgPerson)"},
                "group_search": {"base_dn": GROUPS_DN}}, Secret(SERVICE_PASSWORD))
            ada = person("ada")
            cases = {"sign-in (right password)": ("ada", ada.password),
                     "known user, wrong password": ("ada", "wrong-password"),
                     "unknown username": ("nobody-at-all", "wrong-password")}
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(rounds):
                for name, (username, password) in cases.items():
                    started = time.perf_counter()
                    ldap_directory.authenticate(settings, username, password)
                    times[name].append(time.perf_counter() - started)
        finally:
            slapd.stop()
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"LDAP password checks against a local slapd, {rounds} rounds each, alternating:")
    for name, median in medians.items():
        print(f"  {name:28s} median {median:7.2f} ms")
    ratio = medians["unknown username"] / medians["known user, wrong password"]
    print(f"  unknown / wrong-password ratio: {ratio:.2f} (1.00: indistinguishable)")


if __name__ == "__main__":
    main()
