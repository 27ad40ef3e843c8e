"""The fake arrays of in_tree_suite.py on their own: sessions, TLS that a
client verifies with the array's CA, hanging on request, the request log,
and a state() that two runs of the same calls give alike."""

import base64
import http.client
import json
import socket
import ssl
import time
import unittest
import urllib.parse
from xml.etree import ElementTree

import requests

from fake_powerscale import FakePowerScale
from fake_qnap import FakeQnap


TIME = "20240102030405060708"  # a time as the QNAP driver puts it in a name


def qnap_get(array, path, timeout=5, **query):
    connection = http.client.HTTPConnection("127.0.0.1", array.port, timeout=timeout)
    try:
        connection.request("GET", path + ("?" + urllib.parse.urlencode(query) if query else ""))
        return ElementTree.fromstring(connection.getresponse().read())
    finally:
        connection.close()


def qnap_login(array, password):
    # As the driver sends it: the repr of the base64 bytes.
    pwd = str(base64.b64encode(password.encode()))
    return qnap_get(array, "/cgi-bin/authLogin.cgi", user=array.username, pwd=pwd, serviceKey="1")


class FakeQnapTest(unittest.TestCase):
    def setUp(self):
        self.array = FakeQnap(username="admin", password="secret")
        self.array.start()
        self.addCleanup(self.array.stop)

    def test_login_and_session(self):
        info = qnap_get(self.array, "/cgi-bin/authLogin.cgi")
        self.assertEqual(info.find("model/displayModelName").text, "ES1640dc")
        self.assertEqual(info.find("firmware/version").text, "2.1.0")
        self.assertEqual(qnap_login(self.array, "wrong").find("authPassed").text, "0")
        sid = qnap_login(self.array, "secret").find("authSid").text
        pool = qnap_get(self.array, "/cgi-bin/disk/disk_manage.cgi", store="poolInfo", func="extra_get",
                        poolID="1", Pool_Info="1", sid=sid)
        self.assertEqual(pool.find("authPassed").text, "1")
        self.assertEqual(pool.find("Pool_Index/row/poolID").text, "1")
        self.array.expire_sessions()
        again = qnap_get(self.array, "/cgi-bin/disk/disk_manage.cgi", store="poolInfo", sid=sid)
        self.assertEqual(again.find("authPassed").text, "0")
        # The log leaves the password and the session id out.
        self.assertNotIn("pwd=", " ".join(self.array.requests))
        self.assertNotIn("sid=", " ".join(self.array.requests))
        self.assertEqual(self.array.request_count, 5)

    def test_hang_until_released_then_answer(self):
        self.array.hang()
        with self.assertRaises(socket.timeout):
            qnap_get(self.array, "/cgi-bin/authLogin.cgi", timeout=0.3)
        self.assertTrue(self.array.hanging.is_set())
        self.array.release()
        info = qnap_get(self.array, "/cgi-bin/authLogin.cgi")
        self.assertEqual(info.find("model/modelName").text, "ES1640dc")
        self.array.hang(0.3)
        started = time.monotonic()
        qnap_get(self.array, "/cgi-bin/authLogin.cgi")
        self.assertGreaterEqual(time.monotonic() - started, 0.25)
        self.assertEqual(self.array.request_count, 3)

    def test_https(self):
        array = FakeQnap(tls=True)
        with array:
            self.assertTrue(array.url.startswith("https://127.0.0.1:"))
            context = ssl.create_default_context(cafile=array.ca_file)
            connection = http.client.HTTPSConnection("127.0.0.1", array.port, context=context, timeout=5)
            connection.request("GET", "/cgi-bin/authLogin.cgi")
            self.assertIn(b"ES1640dc", connection.getresponse().read())
            connection.close()

    def test_state_names_times_by_token(self):
        self.array.add_volume("projects", 5)
        sid = qnap_login(self.array, "secret").find("authSid").text
        qnap_get(
            self.array, "/cgi-bin/wizReq.cgi", wiz_func="share_create", vol_name="manila-shr-" + TIME,
            vol_size="2GB", thin_pro="1", compression="1", dedup="off", cache="0", nfs_enable="1",
            cifs_enable="0", pool_name="1", sid=sid,
        )
        state = self.array.state()
        self.assertEqual(sorted(state["volumes"]), ["manila-shr-T1", "projects"])
        self.assertEqual(state["volumes"]["manila-shr-T1"]["size_gib"], 2)
        path = self.array.stable("10.0.0.1:/share/manila-shr-" + TIME)
        self.assertEqual(path, "10.0.0.1:/share/manila-shr-T1")
        json.dumps(state)
        self.assertEqual(self.array.unhandled, [])


class FakePowerScaleTest(unittest.TestCase):
    def setUp(self):
        self.array = FakePowerScale(username="admin", password="secret")
        self.array.start()
        self.addCleanup(self.array.stop)
        self.session = requests.Session()
        self.addCleanup(self.session.close)

    def version_url(self):
        return self.array.url + "/platform/12/cluster/version"

    def login(self):
        answer = self.session.post(self.array.url + "/session/1/session", verify=self.array.ca_file,
                                   data=json.dumps({"username": "admin", "password": "secret",
                                                    "services": ["platform", "namespace"]}))
        self.assertEqual(answer.status_code, 201)
        return {"X-CSRF-Token": answer.cookies["isicsrf"], "referer": self.array.url}

    def test_tls_is_verified_with_the_array_ca(self):
        self.assertTrue(self.array.url.startswith("https://127.0.0.1:"))
        with self.assertRaises(requests.exceptions.SSLError):
            requests.get(self.version_url(), timeout=5)
        answer = requests.get(self.version_url(), verify=self.array.ca_file, timeout=5)
        self.assertEqual(answer.status_code, 401)

    def test_session_cookie_and_csrf(self):
        headers = self.login()
        url = self.version_url()
        version = self.session.get(url, headers=headers, verify=self.array.ca_file).json()
        self.assertEqual(version["nodes"][0]["release"], "9.7.0.0")
        self.assertEqual(self.session.get(url, verify=self.array.ca_file).status_code, 401)  # no CSRF header
        self.array.expire_sessions()
        self.assertEqual(self.session.get(url, headers=headers, verify=self.array.ca_file).status_code, 401)

    def test_share_snapshot_clone_and_state(self):
        def run():
            array = FakePowerScale()
            with array, requests.Session() as session:
                session.post(array.url + "/session/1/session", verify=array.ca_file,
                             data=json.dumps({"username": "admin", "password": "powerscale-password"}))
                headers = {"X-CSRF-Token": session.cookies["isicsrf"], "referer": array.url}

                def call(method, path, body=None, **extra):
                    return session.request(method, array.url + path, verify=array.ca_file,
                                           headers={**headers, **extra},
                                           data=json.dumps(body) if body is not None else None)

                container = {"x-isi-ifs-target-type": "container"}
                made = call("PUT", "/namespace/ifs/manila/a?recursive=True", **container)
                self.assertEqual(made.status_code, 200)
                array.write_file("/ifs/manila/a/data", "first")
                exported = call("POST", "/platform/1/protocols/nfs/exports", {"paths": ["/ifs/manila/a"]})
                self.assertEqual(exported.status_code, 201)
                quota = {"path": "/ifs/manila/a", "type": "directory", "thresholds": {"hard": 2 << 30}}
                self.assertEqual(call("POST", "/platform/1/quota/quotas", quota).status_code, 201)
                snapshot = {"name": "s1", "path": "/ifs/manila/a"}
                snap = call("POST", "/platform/1/snapshot/snapshots", snapshot).json()["id"]
                array.write_file("/ifs/manila/a/data", "second")
                listing = call("GET", "/namespace/ifs/.snapshot/s1/manila/a?detail=default").json()
                self.assertEqual(listing["children"], [{"name": "data", "type": "object"}])
                call("PUT", "/namespace/ifs/manila/b?recursive=False", **container)
                call("PUT", "/namespace/ifs/manila/b/data?clone=true&snapshot=s1",
                     **{"x-isi-ifs-copy-source": "/namespace/ifs/manila/a/data"})
                self.assertEqual(array.read_file("/ifs/manila/b/data"), "first")
                quota = call("GET", "/platform/1/quota/quotas?path=/ifs/manila/a").json()["quotas"][0]
                self.assertEqual(quota["usage"]["logical"], len("second"))
                self.assertEqual(call("DELETE", "/platform/1/snapshot/snapshots/%d" % snap).status_code, 204)
                self.assertEqual(array.unhandled, [])
                return array.state(), array.requests

        first, second = run(), run()
        self.assertEqual(first, second)
        state, log = first
        self.assertEqual(state["files"], {"/ifs/manila/a/data": "second", "/ifs/manila/b/data": "first"})
        self.assertEqual(state["quotas"]["/ifs/manila/a"]["hard_gib"], 2)
        self.assertEqual(log[0], "POST /session/1/session")
        json.dumps(state)

    def test_hang(self):
        self.array.hang()
        with self.assertRaises(requests.exceptions.Timeout):
            requests.get(self.version_url(), verify=self.array.ca_file, timeout=0.3)
        self.array.release()
        answer = requests.get(self.version_url(), verify=self.array.ca_file, timeout=5)
        self.assertEqual(answer.status_code, 401)


if __name__ == "__main__":
    unittest.main()
