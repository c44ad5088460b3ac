"""Issue 15's names and uuids on a real kernel: rename_from (check mode renames nothing, the real run
renames, repeats change nothing), a uuid set on a device made without one, a different uuid refused
with both named and the device untouched; and removal by prefix: a stack made in one batch goes in
one call, dependents first, what the prefix does not select stays. Diff mode throughout."""

from dm_helpers import MIB, mapper


def mine(dm, prefix):
    """This test's devices as dmsetup shows them (name -> uuid, devno, table)."""
    return dict((n, (d['uuid'], d['devno'], d['table'])) for n, d in dm.devices().items() if n.startswith(prefix))


def four_steps(dm, prefix, module, args):
    """The four-step check, with this test's devices read after the check-mode run: it must have
    changed nothing. Returns the four results and the devices before and after the real run."""
    before = mine(dm, prefix)
    check = dm.module(module, check=True, diff=True, **args)
    assert check['changed'] is True, check
    assert mine(dm, prefix) == before, 'check mode changed the devices: %s' % check
    real = dm.module(module, diff=True, **args)
    assert real['changed'] is True and real['diff'], real
    after = mine(dm, prefix)
    again = dm.module(module, diff=True, **args)
    assert again['changed'] is False, again
    again_check = dm.module(module, check=True, diff=True, **args)
    assert again_check['changed'] is False, again_check
    assert mine(dm, prefix) == after, 'a repeat changed the devices'
    return (check, real, again, again_check), before, after


def commands(result):
    """The dmsetup commands of a result, the program as its base name."""
    return [[a.rsplit('/', 1)[-1] if i == 0 else a for i, a in enumerate(c)] for c in result['commands']]


def test_naming_rename_and_uuid(dm, prefix, area):
    old, new, fixed = prefix + 'old', prefix + 'new', prefix + 'fixed'
    uuid_new, uuid_fixed = prefix + 'U-new', prefix + 'U-fixed'
    dm.module('dm_target', devices=[dict(name=old, **area.lin(0, 0, 4)),
                                    dict(name=fixed, uuid=uuid_fixed, **area.lin(1, 0, 4))])

    # a rename: check mode renames nothing, the real run renames once
    (check, real, again, _again_check), before, after = four_steps(
        dm, prefix, 'dm_device', {'name': new, 'rename_from': old})
    assert check['renamed_from'] == old and check['commands'] == [], check
    assert commands(real) == [['dmsetup', 'rename', old, new]], real['commands']
    assert real['renamed_from'] == old and real['before']['devno'] == before[old][1], real
    assert old not in after and after[new] == before[old], (before, after)
    assert real['diff']['before'].startswith('name: %s\n' % old), real['diff']
    assert real['diff']['after'].startswith('name: %s\n' % new), real['diff']
    assert again['commands'] == [] and 'renamed_from' not in again, again

    # a uuid on the device made without one: check mode sets nothing, the real run sets it once
    (check, real, again, _again_check), before, after = four_steps(
        dm, prefix, 'dm_device', {'name': new, 'uuid': uuid_new})
    assert before[new][0] == '' and after[new][0] == uuid_new, (before, after)
    assert check['after']['uuid'] == uuid_new and check['commands'] == [], check
    assert commands(real) == [['dmsetup', 'rename', new, '--setuuid', uuid_new]], real['commands']
    assert 'uuid: \n' in real['diff']['before'] and 'uuid: %s\n' % uuid_new in real['diff']['after'], real['diff']
    assert again['commands'] == [], again

    # a different uuid: refused naming both, nothing run, the device as it was
    wanted = prefix + 'U-other'
    refused = dm.module('dm_device', expect_failure=True, name=fixed, uuid=wanted)
    assert uuid_fixed in refused['msg'] and wanted in refused['msg'], refused
    assert refused.get('commands') == [], refused
    assert mine(dm, prefix)[fixed] == after[fixed], 'the refused uuid change touched %s' % fixed

    # both go in one call by their uuids
    gone = dm.module('dm_device', uuid_prefix=prefix + 'U-', state='absent')
    assert gone['changed'] is True and gone['selected'] == sorted([fixed, new]), gone
    assert mine(dm, prefix) == {}, 'left: %s' % mine(dm, prefix)


def test_naming_teardown_by_prefix(dm, prefix, area):
    """Two linears and a device over both, made in one batch; one call removes them, the top first."""
    stack = prefix + 'stack-'
    base0, base1, top, keep = stack + 'base0', stack + 'base1', stack + 'top', prefix + 'keep'
    dm.module('dm_target', devices=[
        dict(name=base0, **area.lin(0, 16, 4)), dict(name=base1, **area.lin(1, 16, 4)),
        dict(name=top, segments=[
            {'type': 'linear', 'length': 4 * MIB, 'options': {'device': mapper(base0), 'offset': 0}},
            {'type': 'linear', 'length': 4 * MIB, 'options': {'device': mapper(base1), 'offset': 0}}]),
        dict(name=keep, **area.lin(0, 32, 4))])

    (check, real, again, again_check), before, after = four_steps(
        dm, prefix, 'dm_device', {'name_prefix': stack, 'state': 'absent'})
    assert sorted(before) == sorted([base0, base1, top, keep]), before
    assert check['selected'] == real['selected'] == [base0, base1, top], real
    assert [d['name'] for d in real['devices']][0] == top, 'not dependents first: %s' % real['devices']
    assert [commands(d) for d in real['devices']] == [[['dmsetup', 'remove', d['name']]] for d in real['devices']]
    assert list(after) == [keep] and after[keep] == before[keep], after
    assert (again['selected'], again['devices']) == ([], []) and again_check['selected'] == [], again
    assert real['diff']['after'] == ''.join('# %s\n' % d['name'] for d in real['devices']), real['diff']
    dm.module('dm_device', name=keep, state='absent')
