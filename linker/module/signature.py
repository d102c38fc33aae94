"""The signature appended to a module, and the PKCS#7 block inside it.

File layout (``include/linux/module_signature.h``)::

    [ELF image][signer][key id][signature: sig_len bytes][struct module_signature][marker]

``struct module_signature`` is 12 bytes: ``algo, hash, id_type, signer_len, key_id_len``
(u8 each), three bytes of padding and a big-endian ``u32 sig_len``; the marker is
``"~Module signature appended~\\n"``. Modern signatures have ``id_type`` = PKCS#7 with every
other field zero, the signer and key living inside the DER-encoded PKCS#7 ``SignedData``.

Two readers look at it differently and both are modelled here:

* kmod (``libkmod-signature.c``) reports signer = the issuer's commonName, key id = the
  issuer serial number's bytes, the digest algorithm, and the encrypted digest;
* the kernel (``mod_verify_sig``) only checks the header and hands the block to the keyring;
  that check belongs to loading (``linker/module/load``), which uses :func:`split_trailer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..elf.records import BytesLike

MODULE_SIG_STRING = b"~Module signature appended~\n"
MODULE_SIGNATURE_SIZE = 12

PKEY_ID_PGP, PKEY_ID_X509, PKEY_ID_PKCS7 = 0, 1, 2
PKEY_ID_TYPES = ("PGP", "X509", "PKCS#7")
PKEY_ALGOS = ("DSA", "RSA")
PKEY_HASH_ALGOS = ("md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3")

# digest OIDs kmod (through OpenSSL) recognises, by the names it prints
DIGEST_OIDS = {
    "1.2.840.113549.2.4": "md4",
    "1.2.840.113549.2.5": "md5",
    "1.3.14.3.2.26": "sha1",
    "1.3.36.3.2.1": "rmd160",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "1.2.156.10197.1.401": "sm3",
}
OID_COMMON_NAME = "2.5.4.3"


@dataclass(frozen=True)
class ModuleSignatureHeader:
    """``struct module_signature`` as stored."""

    algo: int
    hash: int
    id_type: int
    signer_len: int
    key_id_len: int
    pad: bytes
    sig_len: int

    @classmethod
    def unpack(cls, raw: bytes) -> ModuleSignatureHeader:
        return cls(raw[0], raw[1], raw[2], raw[3], raw[4], bytes(raw[5:8]),
                   int.from_bytes(raw[8:12], "big"))


@dataclass
class ModuleSignature:
    """What the trailer holds, decoded as far as it can be.

    ``elf_len`` is the length of the ELF image before the signature; ``blob`` the raw
    signature data (the PKCS#7 DER for id_type 2). ``signer``, ``key_id``, ``hash_algo`` and
    ``signature`` are kmod's view (bytes; ``None`` when kmod would not show the signature).
    """

    header: ModuleSignatureHeader
    elf_len: int
    blob: bytes
    id_type_name: str | None = None
    signer: bytes | None = None
    key_id: bytes | None = None
    hash_algo: str | None = None
    signature: bytes | None = None
    sid_kind: str | None = None
    subject_key_id: bytes | None = None
    certificates: list[Any] = field(default_factory=list)   # asn1crypto Certificate choices
    problem: str | None = None

    @property
    def kmod_visible(self) -> bool:
        """True when kmod 30's modinfo prints ``sig_id`` and the rest."""
        return self.problem is None


def split_trailer(data: BytesLike) -> tuple[int, ModuleSignatureHeader | None, int | None] | None:
    """``(len_without_marker, header, header_offset)`` or ``None`` if there is no marker."""
    n = len(data)
    mlen = len(MODULE_SIG_STRING)
    if n < mlen or bytes(data[n - mlen:]) != MODULE_SIG_STRING:
        return None
    n -= mlen
    if n < MODULE_SIGNATURE_SIZE:
        return n, None, None
    hoff = n - MODULE_SIGNATURE_SIZE
    return n, ModuleSignatureHeader.unpack(bytes(data[hoff:n])), hoff


def read_signature(data: BytesLike) -> ModuleSignature | None:
    """The appended signature as kmod 30 reads it, or ``None`` when there is none.

    Follows ``kmod_module_signature_info``: the header's enumerations must be in range,
    ``sig_len`` non-zero and everything must fit before the header.
    """
    found = split_trailer(data)
    if found is None:
        return None
    _, hdr, hoff = found
    if hdr is None or hoff is None:
        return None
    if hdr.algo >= len(PKEY_ALGOS) or hdr.hash >= len(PKEY_HASH_ALGOS) \
            or hdr.id_type >= len(PKEY_ID_TYPES):
        return None
    if hdr.sig_len == 0 or hoff < hdr.signer_len + hdr.key_id_len + hdr.sig_len:
        return None
    sig_start = hoff - hdr.sig_len
    blob = bytes(data[sig_start:hoff])
    elf_len = sig_start - hdr.key_id_len - hdr.signer_len
    sig = ModuleSignature(hdr, elf_len, blob, id_type_name=PKEY_ID_TYPES[hdr.id_type])
    if hdr.id_type == PKEY_ID_PKCS7:
        _decode_pkcs7(sig)
    else:
        key_start = sig_start - hdr.key_id_len
        sig.key_id = bytes(data[key_start:sig_start])
        sig.signer = bytes(data[key_start - hdr.signer_len:key_start])
        sig.hash_algo = PKEY_HASH_ALGOS[hdr.hash]
        sig.signature = blob
    return sig


def _decode_pkcs7(sig: ModuleSignature) -> None:
    """Fill the kmod view from the DER ``SignedData``; set ``problem`` where kmod gives up."""
    try:
        from asn1crypto import cms
        info = cms.ContentInfo.load(sig.blob, strict=False)
        signed = info["content"]
        signers = signed["signer_infos"]
        if len(signers) == 0:
            sig.problem = "no SignerInfo"
            return
        si = signers[0]
        sid = si["sid"]
        sig.sid_kind = sid.name
        sig.signature = bytes(si["signature"].native)
        oid = si["digest_algorithm"]["algorithm"].dotted
        sig.hash_algo = DIGEST_OIDS.get(oid)
        sig.certificates = list(signed["certificates"] or [])
        if sid.name != "issuer_and_serial_number":
            # PKCS#7 (unlike CMS) has no other kind of signer id: OpenSSL refuses it
            sig.subject_key_id = bytes(sid.chosen.native)
            sig.problem = "signer identified by subjectKeyIdentifier"
            return
        ias = sid.chosen
        serial = ias["serial_number"].native
        sig.key_id = _bn_bytes(serial)
        sig.signer = _issuer_string(ias["issuer"])
        if sig.hash_algo is None:
            sig.problem = f"unknown digest algorithm {oid}"
    except Exception as exc:  # asn1crypto raises many types on malformed DER
        sig.problem = f"malformed PKCS#7: {exc.__class__.__name__}"


def _bn_bytes(value: int) -> bytes:
    """OpenSSL ``BN_bn2bin`` of the serial's magnitude: big-endian, no leading zeros."""
    value = abs(value)
    return value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""


def _issuer_string(name: Any) -> bytes | None:
    """kmod's ``x509_name_to_str``: the first commonName, else the last attribute's value."""
    chosen = None
    for rdn in name.chosen:
        for ava in rdn:
            chosen = ava
            if ava["type"].dotted == OID_COMMON_NAME:
                return _raw_string(chosen)
    return _raw_string(chosen) if chosen is not None else None


def _raw_string(ava: Any) -> bytes:
    raw = ava["value"].chosen.contents if hasattr(ava["value"], "chosen") else ava["value"].contents
    raw = bytes(raw)
    nul = raw.find(b"\0")
    return raw if nul < 0 else raw[:nul]

