"""kallsyms: the name of an address, in a module or in the kernel (the bottom layer).

``module_symbol`` is ``find_kallsyms_symbol``: while a module is loading its whole symbol
table counts; afterwards only the core symbols ``layout_symtab`` kept. A symbol's size runs
to the next symbol (or to the end of that allocation's text), as the kernel computes it,
not ``st_size``.

The hobby kernel of seed 004 keeps no symbol table after its load: its modules have no
kallsyms entries.
"""

from linker.load.pipeline import LinkedModule


def module_symbol(mod, addr):
    """(name, offset, size) of ``addr`` inside module ``mod``, or None."""
    lm = mod.linked
    if not isinstance(lm, LinkedModule) or lm.image is None:
        return None
    img, lay = lm.image, lm.layout
    in_init = mod.init_size and img.init_addr is not None and img.init_addr <= addr < img.init_addr + lay.init_size
    in_core = img.core_addr <= addr < img.core_addr + lay.core_size
    if not (in_init or in_core):
        return None
    nextval = (img.init_addr + lay.init_text_size) if in_init else (img.core_addr + lay.core_text_size)
    info, values = lm.info, lm.symbols.values
    syms = info.syms
    best, bestval = None, int(values[0]) if len(values) else 0
    core_only = mod.state == "LIVE"
    for i in range(1, len(syms)):
        if int(syms["st_shndx"][i]) == 0 or int(syms["st_name"][i]) == 0:
            continue
        if core_only:
            p = lay.placements.get(int(syms["st_shndx"][i]))
            if p is None or p.alloc != "core":
                continue
        v = int(values[i])
        if bestval < v <= addr:
            best, bestval = i, v
        if addr < v < nextval:
            nextval = v
    if best is None:
        return None
    return info.symbol_name(best), addr - bestval, (nextval - bestval) & 0xFFFFFFFFFFFFFFFF


def symbolize(k, addr, with_offset=True):
    """``name+0x11/0x2c [module]`` for module code, ``name+off/size`` for the kernel, or None."""
    for mod in k.modules:
        hit = module_symbol(mod, addr)
        if hit is not None:
            name, off, size = hit
            return (f"{name}+{off:#x}/{size:#x} [{mod.name}]" if with_offset
                    else f"{name} [{mod.name}]")
    if k.profile.kallsyms_path:
        text = k.profile.kallsyms().symbolize(addr)
        if text:
            return text if with_offset else text.split("+")[0]
    return None
