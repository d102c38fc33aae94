"""A tiny ELF relocatable writer for tests: build exactly the bytes a test needs.

``build_rel(...)`` lays out a header, the section bytes and the section header table, and
returns ``bytearray`` so a test can corrupt one field and check the reader's answer.
"""

import struct

from linker.elf.records import RecordLayout as Layout


class Sec:
    def __init__(self, name, sh_type, data=b"", flags=0, link=0, info=0, align=1, entsize=0,
                 size=None):
        self.name, self.sh_type, self.data = name, sh_type, bytes(data)
        self.flags, self.link, self.info, self.align, self.entsize = flags, link, info, align, entsize
        self.size = len(self.data) if size is None else size


def build_rel(sections, bits=64, little=True, machine=None):
    """An ET_REL file: section 0 (NULL) + ``sections`` + ``.shstrtab`` last."""
    lay = Layout(bits, little)
    machine = machine if machine is not None else (62 if bits == 64 else 3)
    names = b"\0"
    name_off = []
    for s in list(sections) + [Sec(".shstrtab", 3)]:
        name_off.append(len(names))
        names += s.name.encode() + b"\0"
    allsecs = list(sections) + [Sec(".shstrtab", 3, names)]
    body = bytearray(b"\0" * lay.ehdr.size)
    offsets = []
    for s in allsecs:
        while len(body) % max(s.align, 1):
            body += b"\0"
        offsets.append(len(body))
        if s.sh_type != 8:
            body += s.data
    while len(body) % 8:
        body += b"\0"
    shoff = len(body)
    body += b"\0" * lay.shdr.size  # section 0
    for s, off, no in zip(allsecs, offsets, name_off):
        body += lay.shdr.pack(no, s.sh_type, s.flags, 0, off, s.size, s.link, s.info,
                              s.align, s.entsize)
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1 if little else 2, 1]) + b"\0" * 9
    shnum = len(allsecs) + 1
    hdr = lay.ehdr.pack(ident, 1, machine, 1, 0, 0, shoff, 0, lay.ehdr.size, 0, 0,
                        lay.shdr.size, shnum, shnum - 1)
    body[:lay.ehdr.size] = hdr
    return body


def minimal_module(bits=64, little=True):
    """Text, a symbol table with one function, a string table: a valid tiny object."""
    lay = Layout(bits, little)
    strtab = b"\0f\0"
    if bits == 64:
        syms = lay.sym.pack(0, 0, 0, 0, 0, 0) + lay.sym.pack(1, 0x12, 0, 1, 0, 1)
    else:
        syms = lay.sym.pack(0, 0, 0, 0, 0, 0) + lay.sym.pack(1, 0, 1, 0x12, 0, 1)
    return build_rel([
        Sec(".text", 1, b"\xc3", flags=6, align=16),
        Sec(".symtab", 2, syms, link=3, info=1, align=8, entsize=lay.sym.size),
        Sec(".strtab", 3, strtab),
    ], bits=bits, little=little)


def patch(buf, offset, fmt, value):
    struct.pack_into(fmt, buf, offset, value)
    return buf
