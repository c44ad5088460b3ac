"""Exit codes of the bare checkers on the test host, many at once (run by ansible.builtin.script).

  bare_verdicts.py DIR FAMILY:NAME:SNAP ...   prints {"FAMILY:NAME:SNAP": rc, ...} as JSON
"""
import json
import os
import subprocess
import sys


def main(argv):
    directory, specs = argv[1], argv[2:]
    verdicts = {}
    for spec in specs:
        family, name, snap = spec.split(':')
        cmd = ['%s_check' % family, '-q'] + (['-m'] if snap == '1' else []) + [os.path.join(directory, name + '.bin')]
        verdicts[spec] = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode
    print(json.dumps(verdicts))


if __name__ == '__main__':
    main(sys.argv)
