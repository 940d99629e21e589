"""A switch: attributes of the framework replaced together, and put back together.

Two features change the framework in place, for the whole process, and both do it with a
:class:`Switch` (given code, used as it is):

- autograd (kata 05): ``enable_autograd()`` installs the real ``Tensor.backward``, and every
  operation's ``record(...)`` asks the switch whether to build the graph;
- acceleration (kata 18): ``enable_acceleration()`` installs fast kernels in place of the
  framework's own ``conv2d``, ``Softmax.forward``...

A switch holds a list of replacements ``(owner, name, value)``: ``owner`` is a module or a
class, ``name`` one of its attributes. :meth:`Switch.turn_on` saves each attribute and sets
``value`` in its place; :meth:`Switch.turn_off` puts the saved ones back; both are idempotent,
so a second ``turn_on`` never saves a replacement as if it were the original.
:attr:`Switch.is_on` answers whether the replacements are installed, and
:meth:`Switch.original` gives an attribute as it is with the switch off.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_ABSENT = object()  # the owner had no attribute of its own: it was inherited from a base class


class Switch:
    """Replacements of attributes, installed and removed as one."""

    def __init__(self, name: str, replacements: Iterable[tuple[Any, str, Any]]) -> None:
        self.name = name
        self.replacements = tuple(replacements)
        self.is_on = False
        # (owner, name) -> (the owner's own attribute or _ABSENT, the attribute as looked up)
        self._saved: dict[tuple[Any, str], tuple[Any, Any]] = {}

    def turn_on(self) -> None:
        """Install every replacement. Calling it again changes nothing."""
        if self.is_on:
            return
        for owner, name, value in self.replacements:
            self._saved[(owner, name)] = (vars(owner).get(name, _ABSENT), getattr(owner, name))
            setattr(owner, name, value)
        self.is_on = True

    def turn_off(self) -> None:
        """Put every saved attribute back. Calling it again changes nothing.

        A class that inherited the attribute inherits it again (the replacement is deleted,
        not overwritten with the base class's version).
        """
        if not self.is_on:
            return
        for owner, name, _ in self.replacements:
            own, _looked_up = self._saved.pop((owner, name))
            if own is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, own)
        self.is_on = False

    def set(self, on: bool) -> None:
        """:meth:`turn_on` if ``on``, else :meth:`turn_off`."""
        if on:
            self.turn_on()
        else:
            self.turn_off()

    def original(self, owner: Any, name: str) -> Any:
        """``owner.name`` as it is with this switch off, whether or not it is on.

        A replacement that needs the work it replaces calls this: calling ``owner.name``
        while the switch is on would call the replacement itself again.
        """
        saved = self._saved.get((owner, name))
        return getattr(owner, name) if saved is None else saved[1]

    def __repr__(self) -> str:
        return f"<Switch {self.name}: {'on' if self.is_on else 'off'}, {len(self.replacements)} replacements>"
