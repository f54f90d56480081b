"""Enveloped XML signatures on CAP alerts, verified with the key they carry."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from lxml import etree
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier
from signxml.exceptions import SignXMLException

from integrations.cap.model import DSIG
from integrations.cap.xmldoc import safe_parser
from kizuna.errors import InvalidInput

# Every public-key method signxml knows, SHA-1 ones included: real IPAWS and PAGASA messages
# still use SHA-1. HMAC is left out: a shared secret in a public message proves nothing.
_METHODS = frozenset(m for m in SignatureMethod if "HMAC" not in m.name)
_DIGESTS = frozenset(DigestAlgorithm)
FIELD = "alert.Signature"
_KEY_INFO = f"{{{DSIG}}}KeyInfo"


@dataclass(frozen=True)
class SignatureCheck:
    """A signature that verified, and the key it verified with."""

    key_source: str  # "X509Certificate" or "KeyValue"
    key_sha256: str
    certificate_subject: str | None
    certificate_issuer: str | None
    whitespace_ignored: bool

    def as_dict(self) -> dict[str, Any]:
        return {"verified": True, **self.__dict__}


def verify_signature(alert: etree._Element) -> SignatureCheck | None:
    """Verify an <alert>'s enveloped signature, if it has one; refuse one that does not verify.

    The key is the X.509 certificate in the signature's KeyInfo, or else its bare KeyValue.
    Whether that key deserves trust (the certificate's issuer, validity period, revocation) is
    not judged: no trust store is configured, so a verified signature proves only that the
    alert is unchanged since the holder of that key signed it.
    """
    signatures = [child for child in alert if child.tag == f"{{{DSIG}}}Signature"]
    if not signatures:
        return None
    if len(signatures) > 1:
        raise InvalidInput("a CAP alert may carry one ds:Signature, not several", field=FIELD)
    signature = signatures[0]
    line = signature.sourceline
    certificate = _certificate(signature)
    if certificate is None and signature.find(f"{_KEY_INFO}/{{{DSIG}}}KeyValue") is None:
        raise InvalidInput(
            f"line {line}: the signature carries no X.509 certificate or KeyValue in KeyInfo, "
            "so it cannot be verified",
            field=FIELD,
        )
    config = SignatureConfiguration(
        location="./",
        expect_references=1,
        require_x509=False,
        signature_methods=_METHODS,
        digest_algorithms=_DIGESTS,
        # The validity period is part of trusting the certificate, which is out of scope.
        verification_time=_within_validity(certificate) if certificate else None,
    )
    unsigned = _canonical(alert, drop_signature=True)
    failure = ""
    # Publishers often pretty-print a message after signing it; CAP has no mixed content, so
    # whitespace between elements carries nothing, and a second try ignores it.
    for whitespace_ignored in (False, True):
        document = etree.fromstring(
            etree.tostring(alert), safe_parser(remove_blank_text=whitespace_ignored)
        )
        try:
            with warnings.catch_warnings():
                # Old certificates trip cryptography's deprecation warnings (negative serials).
                warnings.simplefilter("ignore")
                result = _verifier().verify(document, x509_cert=certificate, expect_config=config)
        except (SignXMLException, etree.DocumentInvalid, ValueError) as exc:
            failure = failure or _reason(exc)
            continue
        # expect_references=1 gives one result; signxml types it as maybe a list.
        single = result if not isinstance(result, list) else None
        # The signature must cover the whole alert we go on to read, not a part of it.
        if single is None or single.signed_xml is None or _canonical(single.signed_xml) != unsigned:
            failure = "the signed content is not the whole alert"
            continue
        return SignatureCheck(
            key_source="X509Certificate" if certificate else "KeyValue",
            key_sha256=hashlib.sha256(single.signature_key).hexdigest(),
            certificate_subject=certificate.subject.rfc4514_string() if certificate else None,
            certificate_issuer=certificate.issuer.rfc4514_string() if certificate else None,
            whitespace_ignored=whitespace_ignored,
        )
    raise InvalidInput(
        f"line {line}: the XML signature does not verify, so the alert may have been altered "
        f"after signing: {failure}",
        field=FIELD,
    )


def _reason(exc: Exception) -> str:
    text = re.sub(r"\{[^}]*\}", "", str(exc).split("\n")[0])
    # signxml quotes whole base64 values; a few characters say which one.
    text = re.sub(r"'([^']{12})[^']{20,}'", r"'\1…'", text)
    return text[:300] or type(exc).__name__


def _certificate(signature: etree._Element) -> x509.Certificate | None:
    found = signature.find(f"{_KEY_INFO}/{{{DSIG}}}X509Data/{{{DSIG}}}X509Certificate")
    if found is None or not (found.text or "").strip():
        return None
    try:
        der = base64.b64decode("".join((found.text or "").split()), validate=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            f"line {found.sourceline}: the X.509 certificate in the signature cannot be read",
            field=f"{FIELD}.KeyInfo",
        ) from None


def _within_validity(certificate: x509.Certificate) -> datetime:
    now = datetime.now(UTC)
    return max(certificate.not_valid_before_utc, min(now, certificate.not_valid_after_utc))


def _canonical(element: etree._Element, drop_signature: bool = False) -> bytes:
    copy = etree.fromstring(etree.tostring(element), safe_parser(remove_blank_text=True))
    if drop_signature:
        for child in list(copy):
            if child.tag == f"{{{DSIG}}}Signature":
                copy.remove(child)
    for node in copy.iter():
        # Whitespace-only text between elements, which remove_blank_text may leave at the edges.
        if len(node) and node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    return etree.tostring(copy, method="c14n", exclusive=True)


def _verifier() -> XMLVerifier:
    verifier = XMLVerifier()
    # libxml2's inclusive C14N of a subtree writes xmlns="" on elements that are in the
    # signature's default namespace (seen with lxml 6.1 / libxml2 2.14), which breaks every
    # inclusive-C14N signature inside an alert that uses a default namespace. No element of a
    # schema-valid CAP alert or of its SignedInfo is in no namespace, so dropping those
    # declarations restores the true canonical form.
    verifier.excise_empty_xmlns_declarations = True
    return verifier
