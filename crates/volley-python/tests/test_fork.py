"""os.fork(): a producer made in the child works; one inherited from the parent refuses."""
import subprocess
import textwrap

# The parent starts Volley's threads (a producer that has sent) before forking; the child
# runs `child` and exits with its status; the parent exits with the child's.
_SCRIPT = """
import os, sys
from volley import KafkaProducer, errors
bootstrap, topic = sys.argv[1:3]
parent = KafkaProducer(bootstrap_servers=bootstrap)
parent.send(topic, b"parent").get(30)
pid = os.fork()
if pid == 0:
    status = 1
    try:
{child}
        status = 0
    except BaseException as e:
        print("child failed:", repr(e), file=sys.stderr, flush=True)
    os._exit(status)
_, status = os.waitpid(pid, 0)
parent.send(topic, b"parent again").get(30)  # the parent's producer still works
parent.close()
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run(python, bootstrap, topic, child):
    script = _SCRIPT.format(child=textwrap.indent(textwrap.dedent(child), " " * 8))
    return subprocess.run([python, "-c", script, bootstrap, topic], capture_output=True, text=True, timeout=120)


def test_a_producer_created_in_the_child_works(bootstrap, reader, topic, python):
    done = run(python, bootstrap, topic, """
        seen = []
        with KafkaProducer(bootstrap_servers=bootstrap) as child:
            f = child.send(topic, b"child").add_callback(seen.append)
            child.flush(30)
            assert f.get(30).offset == 1 and len(seen) == 1, seen
    """)
    assert done.returncode == 0, done.stderr
    assert [m["v"] for m in reader.read(topic, 3)] == [b"parent", b"child", b"parent again"]


def test_a_producer_inherited_from_the_parent_raises_instead_of_hanging(bootstrap, reader, topic, python):
    done = run(python, bootstrap, topic, """
        for call in (lambda: parent.send(topic, b"from the child"), lambda: parent.flush(5),
                     lambda: parent.partitions_for(topic)):
            try:
                call()
            except errors.IllegalStateError as e:
                assert "os.fork()" in str(e), e
            else:
                raise AssertionError("an inherited producer was used in the child")
        parent.close()  # left to the parent: returns at once
    """)
    assert done.returncode == 0, done.stderr
    assert [m["v"] for m in reader.read(topic, 2)] == [b"parent", b"parent again"]


def test_an_inherited_future_raises_instead_of_hanging(bootstrap, reader, topic, python):
    # The parent's record lingers (linger_ms) while the process forks: its outcome reaches
    # only the parent.
    script = textwrap.dedent("""
        import os, sys
        from volley import KafkaProducer, errors
        bootstrap, topic = sys.argv[1:3]
        p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=3000)
        f = p.send(topic, b"lingering")
        pid = os.fork()
        if pid == 0:
            try:
                f.get(30)
            except errors.IllegalStateError as e:
                os._exit(0 if "os.fork()" in str(e) else 3)
            os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert f.get(30).offset == 0
        p.close()
        sys.exit(os.waitstatus_to_exitcode(status))
    """)
    done = subprocess.run([python, "-c", script, bootstrap, topic], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
