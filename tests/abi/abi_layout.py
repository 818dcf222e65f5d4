#!/usr/bin/env python3
"""Checks that a newer SDK ABI (an abidw XML file) keeps an older one.

abidiff, with the suppression that lets structs grow at their end, stops
looking at a struct that grew: a member moved, renamed or retyped in the
same struct would pass. This check holds every struct, enum and typedef of
the older ABI to the rules of sdk/ABI.md directly:

- a struct keeps its members, in order, with the same names, offsets and
  types, and may only grow after the last one;
- an enum keeps every enumerator with its value (new ones may be added);
- a typedef names the same type (a function pointer keeps its signature).

Usage: abi_layout.py OLD.abixml NEW.abixml   (exit 1 and one line a
problem when NEW breaks OLD).
"""
import sys
import xml.etree.ElementTree as ElementTree


class Corpus:
    def __init__(self, path):
        root = ElementTree.parse(path).getroot()
        self.types = {}
        self.structs = {}
        self.enums = {}
        self.typedefs = {}
        for element in root.iter():
            type_id = element.get("id")
            if type_id is not None:
                self.types[type_id] = element
            name = element.get("name")
            if not name:
                continue
            if element.tag in ("class-decl", "union-decl") and element.get("is-declaration-only") != "yes":
                self.structs[name] = element
            elif element.tag == "enum-decl":
                self.enums[name] = element
            elif element.tag == "typedef-decl":
                self.typedefs[name] = element

    def spell(self, type_id, depth=0):
        """A type as text that does not depend on the file's type ids."""
        if depth > 40:
            return "..."
        element = self.types.get(type_id)
        if element is None:
            return "void" if type_id in (None, "type-id-void") else "?" + str(type_id)
        tag = element.tag
        inner = element.get("type-id")
        if tag in ("type-decl", "typedef-decl"):
            return element.get("name")
        if tag in ("class-decl", "union-decl"):
            return ("union " if tag == "union-decl" else "struct ") + (element.get("name") or "<anonymous>")
        if tag == "enum-decl":
            return "enum " + (element.get("name") or "<anonymous>")
        if tag == "pointer-type-def":
            return self.spell(inner, depth + 1) + "*"
        if tag == "qualified-type-def":
            qualifiers = [q for q in ("const", "volatile", "restrict") if element.get(q) == "yes"]
            return " ".join(qualifiers + [self.spell(inner, depth + 1)])
        if tag == "array-type-def":
            return "%s[%s]" % (self.spell(element.get("type-id"), depth + 1), element.get("size-in-bits"))
        if tag == "function-type":
            parameters = []
            result = "void"
            for child in element:
                if child.tag == "parameter":
                    parameters.append("..." if child.get("is-variadic") == "yes"
                                      else self.spell(child.get("type-id"), depth + 1))
                elif child.tag == "return":
                    result = self.spell(child.get("type-id"), depth + 1)
            return "%s(%s)" % (result, ", ".join(parameters))
        return tag

    def members(self, struct):
        found = []
        for member in struct.findall("data-member"):
            variable = member.find("var-decl")
            found.append((variable.get("name"), int(member.get("layout-offset-in-bits", "0")),
                          self.spell(variable.get("type-id"))))
        return found


def compare(old, new):
    problems = []
    for name, struct in sorted(old.structs.items()):
        if name not in new.structs:
            problems.append("struct %s: gone" % name)
            continue
        old_members = old.members(struct)
        new_members = new.members(new.structs[name])
        for index, was in enumerate(old_members):
            now = new_members[index] if index < len(new_members) else None
            if now != was:
                problems.append("struct %s: member %d was '%s' at bit %d of type %s, now %s" % (
                    name, index, was[0], was[1], was[2],
                    "missing" if now is None else "'%s' at bit %d of type %s" % now))
                break
        old_size = int(struct.get("size-in-bits", "0"))
        new_size = int(new.structs[name].get("size-in-bits", "0"))
        if new_size < old_size:
            problems.append("struct %s: shrank from %d to %d bits" % (name, old_size, new_size))
    for name, enum in sorted(old.enums.items()):
        if name not in new.enums:
            problems.append("enum %s: gone" % name)
            continue
        values = {e.get("name"): e.get("value") for e in new.enums[name].findall("enumerator")}
        for enumerator in enum.findall("enumerator"):
            label, value = enumerator.get("name"), enumerator.get("value")
            if label not in values:
                problems.append("enum %s: %s is gone" % (name, label))
            elif values[label] != value:
                problems.append("enum %s: %s was %s, now %s" % (name, label, value, values[label]))
        old_base = enum.find("underlying-type")
        new_base = new.enums[name].find("underlying-type")
        if old_base is not None and new_base is not None:
            was, now = old.spell(old_base.get("type-id")), new.spell(new_base.get("type-id"))
            if was != now:
                problems.append("enum %s: underlying type was %s, now %s" % (name, was, now))
    for name, typedef in sorted(old.typedefs.items()):
        if name not in new.typedefs:
            problems.append("typedef %s: gone" % name)
            continue
        was = old.spell(typedef.get("type-id"))
        now = new.spell(new.typedefs[name].get("type-id"))
        if was != now:
            problems.append("typedef %s: was %s, now %s" % (name, was, now))
    return problems


def main(arguments):
    if len(arguments) != 3:
        sys.stderr.write("usage: abi_layout.py OLD.abixml NEW.abixml\n")
        return 2
    problems = compare(Corpus(arguments[1]), Corpus(arguments[2]))
    for problem in problems:
        print("ABI break: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
