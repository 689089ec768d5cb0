"""The reference central server: serves sessions over TLS (many devices at once) and over serial links.

TLS connections wait for their handshake in one selector thread (sim/central/tls_gate.py); a device that has
shown its certificate gets a session on a bounded pool of threads, each with its own database connection, and
waits its turn in a bounded queue when all are busy. Each serial link is one device at a time, session after
session. A session is the device's to lead: the server answers each request in turn.
"""

from __future__ import annotations

import logging
import resource
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from firmware.sync.blobs import BlobSink, FileBlob, serve_request
from firmware.sync.channel import Channel, ChannelClosed, SerialChannel, StreamChannel
from firmware.sync.conversation import Conversation, RemoteError, accept_as_server, send_anonymous_error
from firmware.sync.credentials import Credentials
from firmware.sync.schema import (
    AccountQuery,
    BlobChunk,
    BlobEnd,
    BlobOffer,
    BlobRequest,
    Changes,
    Done,
    DoneAck,
    MessageError,
    Pull,
    Purchase,
    PurchaseQuery,
    PurchaseResult,
    Push,
    PushAck,
    Rejected,
    Reserve,
    ReserveResult,
)
from firmware.sync.tls import server_context
from hal.link import LinkError, SocketLink, open_link
from sim.central import kiosk_sync
from sim.central.backend import is_postgres, limit_connections
from sim.central.db import CentralDB
from sim.central.tls_gate import GateLimits, TlsGate
from sim.central.validation import MAX_CENTS, amount_problem, valid_account

log = logging.getLogger("ringfence.central")


@dataclass(frozen=True)
class ServerConfig:
    #: An SQLite file, or a postgresql:// URL.
    db_path: Path | str
    idle_timeout: float = 60.0
    #: Sessions served at once (threads); more devices wait in a queue of `max_queued`, beyond which a
    #: connection is told the server is busy and closed. Limits are in docs/sync-protocol.md section 3.1.
    max_sessions: int = 64
    max_queued: int = 2048
    gate: GateLimits = field(default_factory=GateLimits)
    #: Several server processes may listen on one address (SO_REUSEPORT); the kernel spreads connections.
    reuse_port: bool = False
    #: Where received and published blobs live; beside an SQLite file unless given (PostgreSQL: needed).
    blob_root: Path | None = None
    #: PostgreSQL connections the process keeps at most; sessions borrow one per statement or transaction.
    db_connections: int = 16

    @property
    def blob_dir(self) -> Path:
        if self.blob_root is not None:
            return self.blob_root
        if is_postgres(self.db_path):
            raise LinkError("a server on PostgreSQL needs a directory for blobs (--blob-dir)")
        path = Path(self.db_path)
        return path.with_name(path.name + ".blobs")

    @property
    def published_dir(self) -> Path:
        """Blobs the server offers to devices (firmware bundles): one file per blob id."""
        return self.blob_dir / "published"


class Session:
    """The server's side of one session: every request answered, every write committed before its answer."""

    def __init__(self, conv: Conversation, db: CentralDB, config: ServerConfig) -> None:
        self.conv = conv
        self.db = db
        self.config = config
        self.device = conv.device_id
        self.sink = BlobSink(config.blob_dir / "received" / self.device)

    def serve(self) -> None:
        self.db.seen(self.device)
        while True:
            body = self.conv.recv(self.config.idle_timeout)
            if isinstance(body, Pull):
                self._pull(body)
            elif isinstance(body, Push):
                accepted, rejected = self.db.receive(self.device, list(body.items))
                self.conv.send(PushAck(ids=accepted, rejected=[Rejected(id=i, reason=r) for i, r in rejected]))
            elif isinstance(body, Purchase):
                self.conv.send(self._purchase(body))
            elif isinstance(body, PurchaseQuery):
                self.conv.send(kiosk_sync.answer_status(self.db, self.device, body.key))
            elif isinstance(body, AccountQuery):
                self.conv.send(kiosk_sync.answer_account(self.db, self.device, body))
            elif isinstance(body, Reserve):
                reservation_id, granted = "", 0
                if valid_account(body.account):
                    wanted = min(body.amount_cents, MAX_CENTS)
                    reservation_id, granted = self.db.reserve(self.device, body.account, wanted, body.ttl_s)
                self.conv.send(
                    ReserveResult(account=body.account, reservation_id=reservation_id, granted_cents=granted)
                )
            elif isinstance(body, BlobOffer | BlobChunk | BlobEnd):
                answer = self.sink.handle(body)
                if answer is not None:
                    self.conv.send(answer)
            elif isinstance(body, BlobRequest):
                serve_request(self.conv, body, self._published, self.config.idle_timeout)
            elif isinstance(body, Done):
                self._done(body)
            else:
                raise MessageError("unexpected", f"{type(body).__name__.lower()} is not a request")

    def _purchase(self, purchase: Purchase) -> PurchaseResult:
        """A purchase whose account or amount is out of the protocol's range is answered, never stored."""
        problem = amount_problem(purchase.amount_cents)
        if not valid_account(purchase.account):
            problem = "invalid_account"
        if problem:
            return PurchaseResult(key=purchase.key, status="rejected", reason=problem)
        return kiosk_sync.answer_purchase(self.db, self.device, purchase)

    def _pull(self, pull: Pull) -> None:
        after, upto = pull.after, pull.upto
        while True:
            page = self.db.page(pull.since, after, upto, pull.max_items)
            self.conv.send(Changes(full=page.full, upto=page.upto, last=page.last, more=page.more, items=page.items))
            if not page.more:
                return
            after, upto = page.last, page.upto

    def _done(self, done: Done) -> None:
        head, digest = self.db.digest()
        agree = done.cursor == head and done.digest == digest and done.pending == 0
        self.db.seen(self.device, done.cursor)
        self.conv.send(DoneAck(agree=agree, head=head, digest=digest, received=self.db.received_count(self.device)))

    def _published(self, blob_id: str) -> FileBlob | None:
        try:
            path = self.sink.paths(blob_id)[0]
        except MessageError:
            return None
        candidate = self.config.published_dir / path.name
        return FileBlob(blob_id, "bundle", candidate, {}) if candidate.is_file() else None


def serve_channel(channel: Channel, config: ServerConfig, cert_name: str | None = None) -> None:
    """Run one session on a channel; any failure ends the session with a reason, never the server."""
    conv: Conversation | None = None
    db: CentralDB | None = None
    try:
        db = CentralDB(config.db_path, migrate_sqlite=False)
        conv, _hello = accept_as_server(
            channel,
            db.key_for,
            config.idle_timeout,
            lambda device: db.for_facility(db.facility_of(device) or "").head(),
            cert_name,
        )
        Session(conv, db.for_facility(db.facility_of(conv.device_id) or ""), config).serve()
    except MessageError as exc:
        log.warning("session refused: %s: %s", exc.code, exc)
        if conv is None:
            send_anonymous_error(channel, exc)
        else:
            conv.fail(exc)
    except TimeoutError as exc:
        log.info("session ended: %s", exc)
        if isinstance(channel, SerialChannel):  # a TLS connection is closed by its owner, which the device sees
            channel.end(f"idle for {config.idle_timeout:g} s")
    except (ChannelClosed, RemoteError) as exc:
        log.info("session ended: %s", exc)
    except Exception:  # a defect here ends this session only: never the port, never another device's
        log.exception("session failed")
        error = MessageError("internal", "the server could not answer this request")
        if conv is None:
            send_anonymous_error(channel, error)
        else:
            conv.fail(error)
    finally:
        if db is not None:
            db.close()


class CentralServer:
    """Serve every link given until `stop` is set: tcp:// URLs listen for TLS, others are serial links."""

    def __init__(self, config: ServerConfig, server_creds: Credentials | None, baudrate: int = 115200) -> None:
        self.config = config
        self.creds = server_creds
        self.baudrate = baudrate
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.ports: dict[str, int] = {}
        self.gates: list[TlsGate] = []
        self._pool = ThreadPoolExecutor(max_workers=config.max_sessions, thread_name_prefix="session")
        self._admitted = threading.BoundedSemaphore(config.max_sessions + config.max_queued)
        #: Connections closed because every session and queue place was taken.
        self.busy_refusals = 0

    def start(self, urls: list[str]) -> None:
        raise_open_files_limit()
        if is_postgres(self.config.db_path):
            limit_connections(str(self.config.db_path), self.config.db_connections)
        for url in urls:
            if url.startswith("tcp://"):
                if self.creds is None:
                    raise LinkError(f"link {url}: TLS needs the server's credentials (run `ringfence central enroll`)")
                gate = TlsGate(url, server_context(self.creds), self._admit, self.config.gate, self.config.reuse_port)
                self.ports[url] = gate.port
                self.gates.append(gate)
                self._spawn(gate.serve, self.stop)
            else:
                channel = SerialChannel(open_link(url, self.baudrate), initiator=False, baudrate=self.baudrate)
                self._spawn(self._serial_loop, channel)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _admit(self, link: SocketLink) -> None:
        """A device whose certificate checked out: a session now, a place in the queue, or a clear 'busy'."""
        if not self._admitted.acquire(blocking=False):
            self.busy_refusals += 1
            log.warning("%s: every session and queue place is taken; refused as busy", link.url)
            channel = StreamChannel(link)
            send_anonymous_error(channel, MessageError("busy", "the server is busy; try again later"))
            channel.close()
            return
        self._pool.submit(self._tls_session, link)

    def _tls_session(self, link: SocketLink) -> None:
        channel = StreamChannel(link)
        try:
            serve_channel(channel, self.config, cert_name=link.peer_name)
        finally:
            channel.close()
            self._admitted.release()

    def _serial_loop(self, channel: SerialChannel) -> None:
        try:
            while not self.stop.is_set():
                try:
                    channel.reopen()
                except ChannelClosed as exc:
                    log.error("%s", exc)
                    return
                if not channel.wait_connected(0.5):
                    continue
                serve_channel(channel, self.config)
        finally:
            channel.close()

    def wait(self) -> None:
        while not self.stop.is_set():
            self.stop.wait(0.5)
        self._pool.shutdown(wait=False, cancel_futures=True)


def raise_open_files_limit() -> None:
    """Each waiting connection is a file descriptor: allow as many as the system lets this process have."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open files limit from %d: %s", soft, exc)
