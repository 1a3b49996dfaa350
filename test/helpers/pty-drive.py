"""Runs a command on a pseudo-terminal and answers its questions, for tests of interactive prompts.

usage: pty-drive.py STEPS_JSON -- command args...

STEPS_JSON is a list of [text, answer]: when `text` has appeared in the output, `answer`
is typed. Everything the command wrote follows on stdout, then a line
`@@exit=<code> steps=<answered>`. Bounded: 60 s for the dialogue, 5 s more to exit.
"""
import os, pty, sys, time, select, json

steps = json.loads(sys.argv[1]); cmd = sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out = b''
deadline = time.time() + 60
i = 0
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data: break
        out += data
    if i < len(steps) and steps[i][0].encode() in out[-4000:]:
        # A person's pause before typing: a prompt draws its question before it listens for
        # keys, and nothing on the terminal tells when it starts listening.
        time.sleep(0.2)
        os.write(fd, steps[i][1].encode())
        i += 1
for _ in range(50):
    wpid, status = os.waitpid(pid, os.WNOHANG)
    if wpid: break
    time.sleep(0.1)
else:
    os.kill(pid, 9); _, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf8', 'replace'))
sys.stdout.write('\n@@exit=%d steps=%d\n' % (os.waitstatus_to_exitcode(status), i))
