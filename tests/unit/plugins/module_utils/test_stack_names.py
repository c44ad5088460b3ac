"""Unit tests of _stack.names: the one naming rule of the stacks' carved devices, as the planners
use it and as dm_fault's ``stack`` option finds a layer."""

import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.cache import CacheConfig
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.era import EraConfig
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.names import (
    CARVED_LAYERS, device_names, layer_device)
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.thin import ThinConfig


def test_the_planners_name_their_devices_by_the_rule():
    thin, cache, era = ThinConfig({'name': 's1'}), CacheConfig({'name': 's1'}), EraConfig({'name': 's1'})
    assert (thin.pool, thin.meta, thin.data) == ('s1_pool', 's1_meta', 's1_data')
    assert (cache.cache, cache.meta, cache.cdata, cache.corig, cache.check) == (
        's1', 's1_cmeta', 's1_cdata', 's1_corig', 's1_cmeta_check')
    assert (era.era, era.meta, era.orig, era.view) == ('s1', 's1_emeta', 's1_eorig', 's1_emeta_ro')
    assert sorted(cache.dm_devices) == sorted(device_names('cache', 's1')[r] for r in ('cache',) + CARVED_LAYERS['cache'])
    assert sorted(era.dm_devices) == sorted(device_names('era', 's1')[r] for r in
                                            ('era', 'metadata_view') + CARVED_LAYERS['era'])


@pytest.mark.parametrize('kind, layer, device', [
    ('thin', 'metadata', 'st_meta'), ('thin', 'data', 'st_data'),
    ('cache', 'metadata', 'st_cmeta'), ('cache', 'cache_data', 'st_cdata'), ('cache', 'origin', 'st_corig'),
    ('era', 'metadata', 'st_emeta'), ('era', 'origin', 'st_eorig'),
])
def test_every_carved_layer_is_found(kind, layer, device):
    assert layer_device(kind, 'st', layer) == device


@pytest.mark.parametrize('kind, name, layer, needle', [
    ('zfs', 'st', 'data', "stack.kind 'zfs': expected one of cache, era, thin"),
    ('thin', 'a b', 'data', "stack.name 'a b': expected 1 to 100"),
    ('thin', '..', 'data', "stack.name '..': expected a name with a letter"),
    ('thin', None, 'data', 'stack.name None'),
    ('thin', 'st', 'origin', "stack.layer 'origin': a stack of kind thin carves metadata, data; expected one of them"),
    ('thin', 'st', 'pool', "stack.layer 'pool'"),
    ('era', 'st', 'cache_data', "stack.layer 'cache_data': a stack of kind era carves metadata, origin"),
])
def test_a_bad_stack_layer_is_refused_naming_it(kind, name, layer, needle):
    with pytest.raises(DmError) as exc:
        layer_device(kind, name, layer)
    assert needle in exc.value.msg
