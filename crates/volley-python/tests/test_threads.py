"""Where callbacks run and what waits hold: callbacks that close the producer, the GIL
released while a call waits."""
import threading
import time

from volley import KafkaProducer, errors


def test_close_inside_a_callback_does_not_deadlock(bootstrap, reader, topic):
    p = KafkaProducer(bootstrap_servers=bootstrap)
    closed = threading.Event()
    later_ran = threading.Event()

    def close_from_callback(meta):
        # flush() and close() on the callback thread must not wait for that thread itself.
        p.flush()
        p.close()
        closed.set()

    def later(meta):
        later_ran.set()

    p.send(topic, b"first").add_callback(close_from_callback)
    # Callbacks queued behind the one that closes still run.
    second = p.send(topic, b"second").add_callback(later)
    assert closed.wait(30), "close() inside a callback did not return"
    assert second.get(30).offset == 1
    assert later_ran.wait(30)
    try:
        p.send(topic, b"after")
        raise AssertionError("send after close() in a callback was accepted")
    except errors.IllegalStateError:
        pass
    p.close()  # again, from the main thread: harmless
    assert [m["v"] for m in reader.read(topic, 2)] == [b"first", b"second"]


def test_the_gil_is_released_while_get_waits(bootstrap, topic):
    # linger_ms holds the record for a minute: get() can only return early if this thread
    # runs Python (the flush below) while the other thread waits in get().
    with KafkaProducer(bootstrap_servers=bootstrap, linger_ms=60_000) as p:
        f = p.send(topic, b"held")
        entered = threading.Event()
        got = []

        def wait():
            entered.set()
            got.append(f.get(timeout=60).offset)

        t = threading.Thread(target=wait)
        t.start()
        assert entered.wait(30)
        time.sleep(0.2)  # into get()
        # Had get() kept the GIL, this line would run only after get() returned (a minute).
        ran_while_waiting = not f.is_done
        p.flush(timeout=30)
        t.join(30)
        assert ran_while_waiting and got == [0]


def test_the_gil_is_released_while_flush_waits(bootstrap, stuck):
    p = KafkaProducer(bootstrap_servers=bootstrap, allow_auto_create_topics=False)
    f = p.send(stuck(p), b"cannot be delivered")
    entered = threading.Event()
    flushed = []

    def flush():
        entered.set()
        p.flush(timeout=60)
        flushed.append(f.failed())

    t = threading.Thread(target=flush)
    t.start()
    assert entered.wait(30)
    time.sleep(0.2)  # into flush(); had flush() kept the GIL, this thread would sleep on
    ran_while_waiting = not flushed and t.is_alive()
    p.close(0)  # fails the pending record, which ends the other thread's flush
    t.join(30)
    assert ran_while_waiting and flushed == [True]


def test_the_gil_is_released_while_send_waits_for_metadata(bootstrap):
    # A send to a topic that does not exist waits max_block_ms for its metadata: another
    # thread must run Python meanwhile (the first poll of a send keeps the GIL; a send that
    # has to wait releases it).
    with KafkaProducer(bootstrap_servers=bootstrap, allow_auto_create_topics=False, max_block_ms=3000) as p:
        entered = threading.Event()
        outcome = []

        def send():
            entered.set()
            try:
                p.send(f"py-missing-{time.monotonic_ns()}", b"v")
            except errors.KafkaTimeoutError:
                outcome.append("timed out")

        t = threading.Thread(target=send)
        t.start()
        assert entered.wait(30)
        time.sleep(0.3)  # into the wait; had send() kept the GIL, this thread would sleep on
        ran_while_waiting = t.is_alive() and not outcome
        t.join(30)
        assert ran_while_waiting and outcome == ["timed out"]
