# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""save_json: the one writer of the collection's records on a host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils import _json_file
from ansible_collections.sts.devicemapper.plugins.module_utils._json_file import save_json


def test_makes_the_directory_private_and_writes_the_record_whole(tmp_path):
    path = tmp_path / 'records' / 'pool.json'
    save_json(str(path), {'b': 1, 'a': [1, 2]})
    assert stat.S_IMODE(os.stat(str(path.parent)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert json.loads(path.read_text()) == {'a': [1, 2], 'b': 1}
    assert path.read_text().endswith('}\n')
    assert os.listdir(str(path.parent)) == ['pool.json']


def test_replaces_an_older_record(tmp_path):
    path = str(tmp_path / 'state.json')
    save_json(path, {'phase': 'old'})
    save_json(path, {'phase': 'new'}, indent=4)
    with open(path) as handle:
        text = handle.read()
    assert json.loads(text) == {'phase': 'new'}
    assert '\n    "phase"' in text
    assert os.listdir(str(tmp_path)) == ['state.json']


def test_a_failed_write_keeps_the_old_record_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'state.json')
    save_json(path, {'phase': 'old'})

    def refuse(src, dst):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(_json_file.os, 'rename', refuse)
    with pytest.raises(OSError, match='No space left'):
        save_json(path, {'phase': 'new'})
    with open(path) as handle:
        assert json.load(handle) == {'phase': 'old'}
    assert os.listdir(str(tmp_path)) == ['state.json']


def test_data_json_cannot_hold_is_refused_before_the_record_is_touched(tmp_path):
    path = str(tmp_path / 'state.json')
    save_json(path, {'phase': 'old'})
    with pytest.raises(TypeError):
        save_json(path, {'phase': object()})
    with open(path) as handle:
        assert json.load(handle) == {'phase': 'old'}
    assert os.listdir(str(tmp_path)) == ['state.json']
