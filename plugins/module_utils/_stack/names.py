# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names of a stack and of the dm devices the collection carves for it, in one place: the
stack planners (``_stack.thin``, ``_stack.cache``, ``_stack.era``) name their devices with
``device_names`` and ``dm_fault`` finds a stack's layer with ``layer_device``, without loading
the planners.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError

STACK_NAME_RE = re.compile(r'\A[A-Za-z0-9_.+-]{1,100}\Z')

# kind -> role -> suffix of the stack's name; the carved layers (a linear device each, on the
# stack's loop file or disk) are the ones a fault can be put under
_SUFFIXES = {
    'thin': {'pool': '_pool', 'metadata': '_meta', 'data': '_data'},
    'cache': {'cache': '', 'metadata': '_cmeta', 'cache_data': '_cdata', 'origin': '_corig',
              'metadata_check': '_cmeta_check'},
    'era': {'era': '', 'metadata': '_emeta', 'origin': '_eorig', 'metadata_view': '_emeta_ro'},
}
CARVED_LAYERS = {
    'thin': ('metadata', 'data'),
    'cache': ('metadata', 'cache_data', 'origin'),
    'era': ('metadata', 'origin'),
}
STACK_KINDS = tuple(sorted(_SUFFIXES))


def validate_stack_name(name, what):
    if not isinstance(name, str) or not STACK_NAME_RE.match(name):
        raise DmError('%s %r: expected 1 to 100 letters, digits or _ . + -' % (what, name))
    if not name.strip('.'):
        # the stack's directory is <dir>/<name>: '.' or '..' would be the directory of every stack, or its parent
        raise DmError('%s %r: expected a name with a letter, digit or _ + - in it, not only dots' % (what, name))
    return name


def device_names(kind, name):
    """role -> dm device name, for stack NAME of KIND (the name is not checked here)."""
    return dict((role, name + suffix) for role, suffix in _SUFFIXES[kind].items())


def layer_device(kind, name, layer):
    """The carved dm device of stack NAME's LAYER: what ``dm_fault``'s ``stack`` option names."""
    if kind not in _SUFFIXES:
        raise DmError('stack.kind %r: expected one of %s' % (kind, ', '.join(STACK_KINDS)))
    validate_stack_name(name, 'stack.name')
    if layer not in CARVED_LAYERS[kind]:
        raise DmError('stack.layer %r: a stack of kind %s carves %s; expected one of them' % (
            layer, kind, ', '.join(CARVED_LAYERS[kind])))
    return device_names(kind, name)[layer]
