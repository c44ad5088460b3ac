# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's state records on a host, written whole: the one writer the stack, fault and repair records share."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import tempfile


def save_json(path, data, indent=1):
    """Write ``data`` to ``path`` as JSON, whole or not at all.

    The directory is made (0700) when missing; the text goes to a temporary file beside ``path``
    (0600, as ``mkstemp`` makes it), is synced, then renamed over ``path``, so a reader never sees
    half a record, whatever stops the writer. The temporary file is removed when the write fails.
    """
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    handle, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
    try:
        with os.fdopen(handle, 'w') as out:
            json.dump(data, out, indent=indent, sort_keys=True)
            out.write('\n')
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
