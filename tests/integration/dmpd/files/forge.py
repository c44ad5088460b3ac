"""Damage metadata files on a test host in known ways (run there by ansible.builtin.script).

  forge.py set-needs-check FILE       set the needs_check flag (thin or cache), re-checksummed
  forge.py zero-superblock FILE       zero the first 4 KiB metadata block
  forge.py truncate FILE BYTES        cut the file to BYTES
  forge.py smash-mapping-root FILE    overwrite the thin mapping tree's root node with garbage
"""
import os
import struct
import sys

BLOCK = 4096
MAGICS = {27022010: 'thin', 1623043: 'cache', 2126579579: 'era'}
CSUM_XOR = {'thin': 160774, 'cache': 9031977, 'era': 146538381}
NEEDS_CHECK = {'thin': 1 << 0, 'cache': 1 << 1}


def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _bit in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


TABLE = _crc32c_table()


def crc32c(data, crc=0xFFFFFFFF):
    for byte in bytearray(data):
        crc = TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def rewrite_superblock(path, edit):
    with open(path, 'r+b') as handle:
        block = bytearray(handle.read(BLOCK))
        family = MAGICS[struct.unpack_from('<Q', block, 32)[0]]
        edit(block, family)
        struct.pack_into('<I', block, 0, crc32c(bytes(block[4:])) ^ CSUM_XOR[family])
        handle.seek(0)
        handle.write(block)


def set_needs_check(block, family):
    flags = struct.unpack_from('<I', block, 4)[0]
    struct.pack_into('<I', block, 4, flags | NEEDS_CHECK[family])


def main(argv):
    action, path = argv[1], argv[2]
    if action == 'set-needs-check':
        rewrite_superblock(path, set_needs_check)
    elif action == 'zero-superblock':
        with open(path, 'r+b') as handle:
            handle.write(b'\0' * BLOCK)
    elif action == 'truncate':
        os.truncate(path, int(argv[3]))
    elif action == 'smash-mapping-root':
        with open(path, 'r+b') as handle:
            root = struct.unpack_from('<Q', handle.read(BLOCK), 320)[0]
            handle.seek(root * BLOCK)
            handle.write(b'\xa5' * BLOCK)
    else:
        sys.exit('unknown action %s' % action)
    print('%s %s done' % (action, path))


if __name__ == '__main__':
    main(sys.argv)
