"""``kmodsim profile``: list the shipped kernel profiles, or show one."""

from linker.profiles import list_profiles, load_profile

from . import COMMANDS


def add_parser(sub):
    p = sub.add_parser("profile", help=COMMANDS["profile"],
                       description="Without NAME, list the shipped profiles; with NAME (or a "
                                   "path to your own profile), show what it describes.")
    p.add_argument("name", nargs="?", metavar="NAME|PATH")
    p.add_argument("--symbol", action="append", default=[], metavar="SYM",
                   help="also show this export (repeatable)")
    p.set_defaults(run=run)
    return p


def run(args):
    if args.name is None:
        for name in list_profiles():
            prof = load_profile(name)
            print(f"{name:24} {prof.arch:8} {len(prof.exports):6} exports"
                  f"{'' if prof.runnable else '  (link only)'}")
        return 0
    prof = load_profile(args.name)
    d = prof.descriptor
    print(f"profile:     {prof.name}")
    print(f"arch:        {prof.arch} (ELF{prof.elf_class}, e_machine {prof.e_machine}, "
          f"{prof.calling_convention})")
    print(f"vermagic:    {prof.vermagic!r}")
    print(f"runnable:    {'yes' if prof.runnable else 'no'}")
    print(f"descriptor:  {d.section if hasattr(d, 'section') else d}")
    print(f"exports:     {len(prof.exports)}")
    for sym in args.symbol:
        exp = prof.exports.get(sym)
        if exp is None:
            print(f"  {sym}: not exported")
            continue
        addr = f"{exp.addr:#x}" if exp.addr is not None else "-"
        crc = f"{exp.crc:#010x}" if exp.crc is not None else "-"
        print(f"  {sym}: addr {addr} crc {crc} {'GPL-only ' if exp.gpl_only else ''}"
              f"ns {exp.namespace or '-'} from {exp.exporter} binds {prof.binding(sym) or '-'}")
    return 0
