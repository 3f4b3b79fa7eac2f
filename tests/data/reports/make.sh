#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# make.sh -- writes the binary and message fixtures of tests/data/reports (zip, gzip, .eml); run it here
# The output is deterministic (gzip mtime 0, fixed zip dates and MIME boundaries) and committed,
# so the tests need no Python; rerun it after changing it and commit what changed.
set -eu
cd "$(dirname "$0")"
exec python3 - <<'PY'
import base64, gzip, io, quopri, zipfile

def gz(data):
    return gzip.compress(data, mtime=0)

def zipped(members):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(2025, 12, 6, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return b.getvalue()

def b64(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))

def write(name, data):
    with open(name, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.replace("\n", "\r\n").encode())

GOOGLE = b"""<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>11763480153342087265</report_id>
    <date_range>
      <begin>1764892800</begin>
      <end>1764979199</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.com</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>none</p>
    <sp>none</sp>
    <pct>100</pct>
    <np>none</np>
  </policy_published>
  <record>
    <row>
      <source_ip>209.85.220.41</source_ip>
      <count>120</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>pass</dkim>
        <spf>pass</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.com</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.com</domain>
        <result>pass</result>
        <selector>mn20251201r</selector>
      </dkim>
      <spf>
        <domain>example.com</domain>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>198.51.100.200</source_ip>
      <count>30</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>fail</dkim>
        <spf>pass</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.com</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>esp.example</domain>
        <result>pass</result>
        <selector>esp1</selector>
      </dkim>
      <spf>
        <domain>example.com</domain>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>203.0.113.66</source_ip>
      <count>8</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>fail</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.com</header_from>
    </identifiers>
    <auth_results>
      <spf>
        <domain>spoof.example</domain>
        <result>fail</result>
      </spf>
    </auth_results>
  </record>
</feedback>
"""
GNAME = "google.com!example.com!1764892800!1764979199.zip"
write("google.eml", f"""Return-Path: <noreply-dmarc-support@google.com>
Date: Sat, 06 Dec 2025 07:59:59 -0800
From: noreply-dmarc-support@google.com
To: dmarc@example.com
Message-ID: <11763480153342087265@google.com>
Subject: Report domain: example.com Submitter: google.com Report-ID: 11763480153342087265
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="000000000000a1b2c3d4e5f6"

--000000000000a1b2c3d4e5f6
Content-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes


--000000000000a1b2c3d4e5f6
Content-Type: application/zip; name="{GNAME}"
Content-Disposition: attachment; filename="{GNAME}"
Content-Transfer-Encoding: base64

{b64(zipped([("google.com!example.com!1764892800!1764979199.xml", GOOGLE)]))}
--000000000000a1b2c3d4e5f6--
""")

YAHOO = GOOGLE.replace(b"google.com</org_name>", b"Yahoo</org_name>") \
    .replace(b"noreply-dmarc-support@google.com", b"dmarchelp@yahooinc.com") \
    .replace(b"11763480153342087265", b"1764979199.752913")
# Yahoo-style gzip, with bytes after the gzip stream (as some gateways leave them)
write("yahoo.xml.gz", gz(YAHOO) + b"\r\n\r\n--")
write("yahoo.eml", f"""From: Yahoo DMARC Report <dmarchelp@yahooinc.com>
To: dmarc@example.com
Subject: Report Domain: example.com Submitter: Yahoo Report-ID: <1764979199.752913>
Date: Sat, 6 Dec 2025 11:00:00 +0000
Message-ID: <yahoo-1764979199.752913@yahooinc.com>
MIME-Version: 1.0
Content-Type: application/gzip; name="yahoo.com!example.com!1764892800!1764979199.xml.gz"
Content-Disposition: attachment; filename="yahoo.com!example.com!1764892800!1764979199.xml.gz"
Content-Transfer-Encoding: base64

{b64(gz(YAHOO) + b"trailing")}
""")

# inline XML in the body, quoted-printable (long lines, '=' signs)
write("inline-qp.eml", """From: DMARC <dmarc@inline.example>
To: dmarc@example.com
Subject: DMARC aggregate report for example.com
Date: Sat, 6 Dec 2025 12:00:00 +0100
Message-ID: <inline-qp-1@inline.example>
MIME-Version: 1.0
Content-Type: text/xml; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

""" + quopri.encodestring(GOOGLE.replace(b"google.com</org_name>", b"Inline Mail Systems GmbH</org_name>")
    .replace(b"11763480153342087265", b"inline-qp-20251206")).decode())

# application/octet-stream attachment of a .xml.gz
OCT = GOOGLE.replace(b"google.com</org_name>", b"octet.example</org_name>") \
    .replace(b"11763480153342087265", b"octet-1")
write("octet.eml", f"""From: reports@octet.example
To: dmarc@example.com
Subject: Report domain: example.com
Date: Sat, 6 Dec 2025 13:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=us-ascii

This is an aggregate report.  A PDF of the same is attached too.

--b1
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

{b64(b"%PDF-1.4 not really a pdf")}
--b1
Content-Type: application/octet-stream; name="octet.example!example.com!1764892800!1764979199.xml.gz"
Content-Disposition: attachment; filename="octet.example!example.com!1764892800!1764979199.xml.gz"
Content-Transfer-Encoding: base64

{b64(gz(OCT))}
--b1--
""")

# TLS-RPT in a multipart/report (RFC 8460 section 5.3), application/tlsrpt+gzip
TLS = b"""{"organization-name":"Google Inc.","date-range":{"start-datetime":"2025-12-05T00:00:00Z","end-datetime":"2025-12-05T23:59:59Z"},"contact-info":"smtp-tls-reporting@google.com","report-id":"2025-12-05T00:00:00Z_example.com","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: mx1.example.com","max_age: 604800"],"policy-domain":"example.com","mx-host":["mx1.example.com"]},"summary":{"total-successful-session-count":950,"total-failure-session-count":12},"failure-details":[{"result-type":"certificate-host-mismatch","sending-mta-ip":"2001:db8::a","receiving-mx-hostname":"mx1.example.com.","failed-session-count":12}]},{"policy":{"policy-type":"no-policy-found","policy-domain":"example.com"},"summary":{"total-successful-session-count":38,"total-failure-session-count":0}}]}"""
write("tlsrpt.json.gz", gz(TLS))
write("tlsrpt.eml", f"""From: noreply-smtp-tls-reporting@google.com
To: tlsrpt@example.com
Subject: Report Domain: example.com Submitter: google.com Report-ID: <2025-12-05T00:00:00Z_example.com@google.com>
Date: Sat, 6 Dec 2025 10:00:00 +0000
Message-ID: <tls-1@google.com>
TLS-Report-Domain: example.com
TLS-Report-Submitter: google.com
MIME-Version: 1.0
Content-Type: multipart/report; report-type="tlsrpt"; boundary="tls"

--tls
Content-Type: text/plain; charset="UTF-8"

This is an aggregate TLS report from google.com

--tls
Content-Type: application/tlsrpt+gzip; name="google.com!example.com!1764892800!1764979199!001.json.gz"
Content-Disposition: attachment; filename="google.com!example.com!1764892800!1764979199!001.json.gz"
Content-Transfer-Encoding: base64

{b64(gz(TLS))}
--tls--
""")

# ARF failure reports (RFC 6591): the reported message's body must be dropped
write("arf.eml", """From: DMARC Failure Reports <ruf@receiver.example>
To: ruf@example.com
Subject: FW: Earn money
Date: Fri, 05 Dec 2025 18:10:00 +0000
Message-ID: <arf-433689.81121@receiver.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an authentication failure report for an email message received from IP
192.0.2.1 on Fri, 05 Dec 2025 18:01:02 +0000.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: auth-failure
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <bounce@spoof.example>
Original-Rcpt-To: <user@example.com>
Original-Rcpt-To: <other@example.com>
Arrival-Date: Fri, 05 Dec 2025 18:01:02 +0000
Source-IP: 192.0.2.1
Reported-Domain: Example.com
Auth-Failure: dmarc
Authentication-Results: receiver.example; dmarc=fail (p=none) header.from=example.com;
 spf=fail smtp.mailfrom=spoof.example
DKIM-Domain: example.com
DKIM-Selector: mn20251201r

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

Received: from mailserver.spoof.example (mailserver.spoof.example [192.0.2.1])
        by mx.receiver.example; Fri, 05 Dec 2025 18:01:02 +0000
From: <ceo@example.com>
To: <user@example.com>
Subject: Earn money
Date: Fri, 05 Dec 2025 18:01:00 +0000
Message-ID: <8787KJKJ3K4J3K4J3K4J3.mail@spoof.example>
MIME-Version: 1.0
Content-Type: text/plain

SECRET BODY LINE: wire 10,000 USD to the account below.
Another private line of the reported message.

--part1_13d.2e68ed54_boundary--
""")
write("arf-headers.eml", """From: ruf@receiver.example
To: ruf@example.com
Subject: DMARC failure report
Date: Fri, 05 Dec 2025 19:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b"

--b
Content-Type: text/plain

A message failed DMARC.

--b
Content-Type: message/feedback-report

Feedback-Type: auth-failure
Version: 1
Source-IP: 2001:DB8::0:1
Auth-Failure: spf

--b
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: base64

""" + b64(b"From: Boss <boss@example.org>\r\nTo: you@example.net\r\nSubject: hi\r\n\r\nSECRET BODY LINE that a sloppy reporter appended\r\n") + """
--b--
""")

write("plain.eml", """From: alice@example.org
To: dmarc@example.com
Subject: Hello, is this the DMARC mailbox?
Date: Sat, 6 Dec 2025 09:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Just checking that mail arrives.  <b>no report here</b>
""")

# zips: a README beside the report is fine; two reports, '..' and absolute names are not
write("zip-readme.zip", zipped([("README.txt", b"generated by a receiver\n"), ("report.xml", GOOGLE)]))
write("zip-two.zip", zipped([("a.xml", GOOGLE), ("b.xml", GOOGLE)]))
write("zip-dotdot.zip", zipped([("reports/../../evil.xml", GOOGLE)]))
write("zip-absolute.zip", zipped([("/tmp/evil.xml", GOOGLE)]))
PY
