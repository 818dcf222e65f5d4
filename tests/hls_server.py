#!/usr/bin/env python3
"""A fault-injecting live HLS server for tests/test_hls_live.sh (stdlib only).

It turns a set of pre-encoded 1 s segments into a live stream whose sliding
window advances with the wall clock: segment k (k = 0, 1, ...) becomes
available `--preroll` seconds of stream time before the server's start
plus k + 1 seconds, and the playlist lists the last `--window` available
ones with media sequence 1000 + k. A scenario then breaks it on purpose,
at times counted from `--t0` (the wall-clock start of the first launch, so
a restarted server continues the same stream):

  normal       nothing, but every /live request must carry the headers the
               test configures (X-Streamcut-Test, Cookie, User-Agent), else
               400; serves master.m3u8: a 180p variant and two 404 ones
  hostile      the segment due at t=4 s is listed as file:///etc/passwd, the
               one at t=6 s on http://localhost:PORT (another host name), the
               one at t=8 s redirects there (302)
  (any)        /live/moved.m3u8 redirects (302) to http://localhost:PORT/live/index.m3u8
  plain        nothing at all
  seg404       the segment that appears at t=4 s answers 404, always
  pl500        the playlist answers 500 for t in [4, 7)
  stall        the playlist is frozen (served unchanged) for t in [4, 10)
  expire       frozen for t in [4, 12): 8 segments appear at once, 2 of them
               already out of the 6-segment window
  behind       like expire with a 12-segment window, frozen for t in [4, 10)
  restart      nothing here: the test kills and restarts the server
  reset        at t=5 the packager "restarts": media sequence 2, new file
               names, a second encode (timestamps from 0), no discontinuity tag
  disc         at t=5 the segments come from the second encode, after an
               EXT-X-DISCONTINUITY (and DISCONTINUITY-SEQUENCE counting them)
  pdt          every segment has a PROGRAM-DATE-TIME, one hour in the past
  ads          Twitch style: PROGRAM-DATE-TIME, titles "live", and 4 ad
               segments from t=5 (second encode, titles "Amazon|...",
               DATERANGE CLASS="twitch-stitched-ad", discontinuities around
               them), plus #EXT-X-TWITCH-PREFETCH for the next 2 segments
               (held until they exist)
  trickle      every response sent 1 byte per 200 ms for t in [4, 9)
  token        the playlist needs ?token=T issued less than 4 s ago (else
               403); GET /token answers a fresh playlist URL
  fmp4         the fMP4 encode (EXT-X-MAP init.mp4, .m4s segments)
  id3          an ID3 tag (TIT2 "cue-K") injected as timed metadata into
               every MPEG-TS segment
  vod          /vod/index.m3u8: the fMP4 encode's own VOD playlist
  aes          /aes/index.m3u8: an AES-128 encrypted VOD playlist (--aes DIR,
               ffmpeg's own playlist, key and segments)
  ranges       /ranges/index.m3u8: a VOD playlist of EXT-X-BYTERANGE parts
               of one file (--ranges DIR); files answer Range requests (206)
  twohost      of every 3 segments, one is listed relative (this server,
               127.0.0.1), one on http://localhost:OTHER/ (--other-port, a
               second server), one on http://localhost:PORT/ (this server
               under another host name); every playlist answer sets the
               cookie edge=E1 for 127.0.0.1, which segment requests to
               127.0.0.1 must carry (else 403) and requests to localhost
               must not (else 400)
  redirects    the segment due at t=4 s redirects (302) to
               http://127.0.0.1:OTHER/ (--other-port: a server the source
               must not reach), the one at t=6 s through a chain of 3
               redirects on this server, the one at t=8 s through a chain
               of 2
  (any)        serving from a server started with --scenario twohost or
               redirects and no stream of its own works as the other server

With --tls CERT KEY it speaks HTTPS (the test's self-signed certificate,
which the source must refuse).

Every response keeps the connection open (HTTP/1.1 keep-alive). With
--log FILE each accepted connection and each request is appended to FILE
as a JSON line: {"event": "connect", "conn": ID} and {"event": "request",
"conn": ID, "host": Host header, "path": path, "cookie": Cookie header,
"range": Range header, "t": arrival time}.

Usage: hls_server.py --media DIR --alt DIR --fmp4 DIR --scenario NAME
                     [--port N] [--t0 SECONDS] [--window N] [--preroll S]
                     [--other-port N] [--aes DIR] [--ranges DIR] [--log FILE]
                     [--tls CERT KEY]
Prints "PORT <n>" on its first line once listening on 127.0.0.1.
       hls_server.py --resolve URL   (a resolver: prints what URL answers)
"""
import argparse
import datetime
import http.server
import itertools
import json
import os
import re
import ssl
import struct
import sys
import threading
import time
import urllib.request
import zlib

BASE_SEQUENCE = 1000
SEGMENT_SECONDS = 1.0


def read_durations(directory, playlist="index.m3u8"):
    """The EXTINF durations and URIs of an ffmpeg-written playlist."""
    entries = []
    duration = None
    with open(os.path.join(directory, playlist)) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#EXTINF:"):
                duration = float(line[8:].split(",")[0])
            elif line and not line.startswith("#") and duration is not None:
                entries.append((line, duration))
                duration = None
    return entries


# ---- timed ID3 in MPEG-TS ------------------------------------------------

def crc32_mpeg2(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def id3_tag(text):
    """An ID3v2.4 tag with one TIT2 frame."""
    body = b"\x03" + text.encode()  # UTF-8
    frame = b"TIT2" + syncsafe(len(body)) + b"\x00\x00" + body
    return b"ID3\x04\x00\x00" + syncsafe(len(frame)) + frame


def syncsafe(n):
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def pes_pts(header):
    """The PTS of a PES header (bytes from 00 00 01), or None."""
    if len(header) < 14 or header[:3] != b"\x00\x00\x01" or not header[7] & 0x80:
        return None
    p = header[9:14]
    return (((p[0] >> 1) & 7) << 30) | (p[1] << 22) | ((p[2] >> 1) << 15) | (p[3] << 7) | (p[4] >> 1)


def encode_pts(pts):
    return bytes([0x21 | ((pts >> 29) & 0x0E), (pts >> 22) & 0xFF, 0x01 | ((pts >> 14) & 0xFE),
                  (pts >> 7) & 0xFF, 0x01 | ((pts << 1) & 0xFE)])


ID3_PID = 0x0102


def inject_id3(ts, text):
    """Adds a timed ID3 elementary stream (stream type 0x15 with the
    metadata descriptor Apple's spec gives) to every PMT, and one ID3 PES
    at the segment's first video PTS after the first PMT."""
    packets = [ts[i:i + 188] for i in range(0, len(ts) - len(ts) % 188, 188)]
    pmt_pid = None
    video_pid = None
    first_pts = None
    for p in packets:
        pid = ((p[1] & 0x1F) << 8) | p[2]
        if pid == 0 and p[1] & 0x40:
            section = p[5 + p[4]:]
            pmt_pid = ((section[10] & 0x1F) << 8) | section[11]
            break
    out = []
    inserted = False
    for p in packets:
        pid = ((p[1] & 0x1F) << 8) | p[2]
        if pid == pmt_pid and p[1] & 0x40:
            pointer = p[4]
            section = bytearray(p[5 + pointer:])
            length = ((section[1] & 0x0F) << 8) | section[2]
            program_info = ((section[10] & 0x0F) << 8) | section[11]
            es = section[12 + program_info:3 + length - 4]
            i = 0
            while i + 5 <= len(es):
                stream_type = es[i]
                es_pid = ((es[i + 1] & 0x1F) << 8) | es[i + 2]
                info_length = ((es[i + 3] & 0x0F) << 8) | es[i + 4]
                if stream_type in (0x1B, 0x24) and video_pid is None:
                    video_pid = es_pid
                i += 5 + info_length
            descriptor = bytes([0x26, 13]) + b"\xff\xff" + b"ID3 " + b"\xff" + b"ID3 " + b"\x00\x0f"
            entry = bytes([0x15, 0xE0 | (ID3_PID >> 8), ID3_PID & 0xFF, 0xF0, len(descriptor)]) + descriptor
            body = bytes(section[3:12 + program_info]) + bytes(es) + entry
            new_length = len(body) + 4
            head = bytes([section[0], 0xB0 | (new_length >> 8), new_length & 0xFF])
            crc = crc32_mpeg2(head + body)
            new_section = head + body + struct.pack(">I", crc)
            payload = bytes(p[4:5 + pointer]) + new_section
            packet = bytes(p[:4]) + payload
            packet += b"\xff" * (188 - len(packet))
            out.append(packet[:188])
            continue
        if video_pid is not None and pid == video_pid and p[1] & 0x40 and first_pts is None:
            offset = 4
            if p[3] & 0x20:
                offset += 1 + p[4]
            first_pts = pes_pts(p[offset:])
            if first_pts is not None and not inserted:
                out.append(id3_packet(text, first_pts))
                inserted = True
        out.append(p)
    return b"".join(out)


def id3_packet(text, pts):
    tag = id3_tag(text)
    # One metadata access unit cell (ISO/IEC 13818-1 2.12.4): service 0,
    # sequence 0, complete, random access; libavformat reads it so.
    cell = bytes([0x00, 0x00, 0xDF]) + struct.pack(">H", len(tag)) + tag
    pes_body = bytes([0x84, 0x80, 5]) + encode_pts(pts) + cell
    pes = b"\x00\x00\x01\xbd" + struct.pack(">H", len(pes_body)) + pes_body
    header = bytes([0x47, 0x40 | (ID3_PID >> 8), ID3_PID & 0xFF])
    space = 184 - len(pes)
    if space < 0:
        raise ValueError("ID3 tag too large for one TS packet")
    if space == 0:
        return header + b"\x10" + pes
    if space == 1:
        return header + b"\x30\x00" + pes
    adaptation = bytes([space - 1, 0x00]) + b"\xff" * (space - 2)
    return header + b"\x30" + adaptation + pes


# ---- the live stream -----------------------------------------------------

class Stream:
    def __init__(self, args):
        self.args = args
        self.scenario = args.scenario
        self.t0 = args.t0 if args.t0 else time.time()
        self.epoch = self.t0 - args.preroll
        self.window = args.window
        self.media = read_durations(args.media)
        self.alt = read_durations(args.alt)
        self.fmp4 = read_durations(args.fmp4)
        self.cache = {}
        self.tokens = {}
        self.lock = threading.Lock()
        # one hour in the past, on a quarter second: far from any arrival time
        self.pdt_base = int(self.t0 - 3600 - args.preroll) + 0.25

    def elapsed(self):
        return time.time() - self.t0

    def frozen_at(self):
        """Stream time the playlist is frozen at, or None."""
        t = self.elapsed()
        freeze = {"stall": (4, 10), "expire": (4, 12), "behind": (4, 10)}.get(self.scenario)
        if freeze and freeze[0] <= t < freeze[1]:
            return self.t0 + freeze[0] - self.epoch
        return None

    def available(self, stream_time):
        return int(stream_time // SEGMENT_SECONDS)

    def switch_index(self, at):
        """Index k of the first segment after a switch at elapsed `at`."""
        return self.available(self.t0 + at - self.epoch)

    def segment(self, k):
        """(sequence, uri, duration, title, discontinuity, kind, file index) of live segment k."""
        kind, index, name = "a", k % len(self.media), None
        sequence = BASE_SEQUENCE + k
        discontinuity = False
        title = ""
        if self.scenario == "reset":
            switch = self.switch_index(5)
            if k >= switch:
                sequence = 2 + (k - switch)
                kind, index = "b", (k - switch) % len(self.alt)
                name = "b_seg%05d.ts" % index
        elif self.scenario == "disc":
            switch = self.switch_index(5)
            if k >= switch:
                kind, index = "b", (k - switch) % len(self.alt)
                name = "b_seg%05d.ts" % index
                discontinuity = k == switch
        elif self.scenario == "ads":
            start = self.switch_index(5)
            title = "live"
            if start <= k < start + 4:
                kind, index = "b", k - start
                name = "ad_%05d.ts" % index
                title = "Amazon|%d|ad" % (k - start)
            discontinuity = k in (start, start + 4)
        if self.scenario == "twohost" and k % 3 == 1:
            name = "http://localhost:%d/live/seg%05d.ts" % (self.args.other_port, index)
        elif self.scenario == "twohost" and k % 3 == 2:
            name = "http://localhost:%d/live/seg%05d.ts" % (self.port, index)
        if self.scenario == "redirects":
            if k == self.switch_index(4):
                name = "out_seg%05d.ts" % index
            elif k == self.switch_index(6):
                name = "chain3_seg%05d.ts" % index
            elif k == self.switch_index(8):
                name = "chain2_seg%05d.ts" % index
        if self.scenario == "hostile":
            if k == self.switch_index(4):
                name = "file:///etc/passwd"
            elif k == self.switch_index(6):
                name = "http://localhost:%d/live/seg%05d.ts" % (self.port, index)
            elif k == self.switch_index(8):
                name = "redirect_seg%05d.ts" % index
        if self.scenario == "fmp4":
            index = k % len(self.fmp4)
            name = "f_%s" % self.fmp4[index][0]
            duration = self.fmp4[index][1]
        else:
            duration = (self.alt if kind == "b" else self.media)[index][1]
        if name is None:
            name = "seg%05d.ts" % index
        return sequence, name, duration, title, discontinuity, kind, index

    def media_playlist(self):
        t = self.frozen_at()
        if t is None:
            t = time.time() - self.epoch
        count = self.available(t)
        first = max(0, count - self.window)
        segments = list(range(first, count))
        if self.scenario == "reset":
            switch = self.switch_index(5)
            if count > switch:
                segments = [k for k in segments if k >= switch]
        lines = ["#EXTM3U", "#EXT-X-VERSION:%d" % (7 if self.scenario == "fmp4" else 3), "#EXT-X-TARGETDURATION:1"]
        if not segments:
            return "\n".join(lines + ["#EXT-X-MEDIA-SEQUENCE:%d" % BASE_SEQUENCE]) + "\n"
        first_sequence = self.segment(segments[0])[0]
        lines.append("#EXT-X-MEDIA-SEQUENCE:%d" % first_sequence)
        if self.scenario in ("disc", "ads"):
            # discontinuities that already left the window
            gone = sum(1 for k in range(0, segments[0] + 1) if self.segment(k)[4] and k < segments[0])
            lines.append("#EXT-X-DISCONTINUITY-SEQUENCE:%d" % gone)
        if self.scenario == "fmp4":
            lines.append('#EXT-X-MAP:URI="f_init.mp4"')
        if self.scenario == "ads":
            start = self.switch_index(5)
            if any(start <= k < start + 4 for k in segments) or (segments[-1] >= start - 2 and segments[0] < start + 4):
                lines.append('#EXT-X-DATERANGE:ID="stitched-ad-%d",CLASS="twitch-stitched-ad",START-DATE="%s",'
                             'DURATION=4.000,X-TV-TWITCH-AD-ROLL-TYPE="MIDROLL"' % (start, self.pdt(start)))
        for k in segments:
            sequence, name, duration, title, discontinuity, kind, index = self.segment(k)
            if discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            if self.scenario in ("pdt", "ads"):
                lines.append("#EXT-X-PROGRAM-DATE-TIME:%s" % self.pdt(k))
            lines.append("#EXTINF:%.6f,%s" % (duration, title))
            lines.append(name)
        if self.scenario == "ads":
            for k in (count, count + 1):
                lines.append("#EXT-X-TWITCH-PREFETCH:%s" % self.segment(k)[1])
        return "\n".join(lines) + "\n"

    def pdt(self, k):
        moment = datetime.datetime.fromtimestamp(self.pdt_base + k * SEGMENT_SECONDS, datetime.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)

    def find_segment(self, name):
        """The live segment k a file name stands for (None if unknown)."""
        match = re.fullmatch(r"(seg|b_seg|ad_|f_seg|redirect_seg|out_seg|chain\d_seg)(\d+)\.(ts|m4s)", name)
        if not match:
            return None
        now_count = self.available(time.time() - self.epoch)
        for k in range(max(0, now_count - 40), now_count + 3):
            if self.segment(k)[1].rsplit("/", 1)[-1] == name:
                return k
        return None

    def segment_bytes(self, k):
        sequence, name, duration, title, discontinuity, kind, index = self.segment(k)
        key = (name, self.scenario == "id3", k if self.scenario == "id3" else None)
        with self.lock:
            if key in self.cache:
                return self.cache[key]
        if self.scenario == "fmp4":
            path = os.path.join(self.args.fmp4, self.fmp4[index][0])
        elif kind == "b":
            path = os.path.join(self.args.alt, self.alt[index][0])
        else:
            path = os.path.join(self.args.media, self.media[index][0])
        with open(path, "rb") as f:
            data = f.read()
        if self.scenario == "id3":
            data = inject_id3(data, "cue-%d" % (BASE_SEQUENCE + k))
        with self.lock:
            self.cache[key] = data
        return data


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hls_server"
    # Headers and body leave in separate writes: on a kept-alive connection
    # Nagle's algorithm would hold the body for the client's delayed ACK
    # (40 ms a request), which web servers and CDNs do not do.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        if self.server.stream.args.verbose:
            sys.stderr.write("hls_server: %s\n" % (format % args))

    def setup(self):
        super().setup()
        self.connection_id = "%d-%d" % (os.getpid(), next(self.server.connection_numbers))
        self.server.log_event({"event": "connect", "conn": self.connection_id})

    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_body(self, status, body, content_type, cookie=None, headers=None):
        stream = self.server.stream
        trickle = stream.scenario == "trickle" and 4 <= stream.elapsed() < 9
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if cookie:
            self.send_header("Set-Cookie", cookie)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            if trickle:
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.2)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_file(self, folder, name):
        """A file of an encoded folder (VOD playlists, segments, keys), or the byte range asked for."""
        if not re.fullmatch(r"[A-Za-z0-9_.]+", name) or not os.path.isfile(os.path.join(folder, name)):
            return self.send_body(404, b"not found\n", "text/plain")
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        asked = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range") or "")
        if asked and int(asked.group(1)) < len(data):
            first, last = int(asked.group(1)), min(int(asked.group(2)), len(data) - 1)
            return self.send_body(206, data[first:last + 1], "application/octet-stream",
                                  headers={"Content-Range": "bytes %d-%d/%d" % (first, last, len(data))})
        return self.send_body(200, data, "application/octet-stream")

    def cookies(self):
        pairs = (item.strip().partition("=") for item in (self.headers.get("Cookie") or "").split(";"))
        return {name: value for name, _, value in pairs if name}

    def do_GET(self):
        stream = self.server.stream
        path, _, query = self.path.partition("?")
        self.server.log_event({"event": "request", "conn": self.connection_id, "host": self.headers.get("Host"),
                               "path": self.path, "cookie": self.headers.get("Cookie"), "range": self.headers.get("Range"),
                               "t": time.time()})
        if stream.args.verbose:
            sys.stderr.write("hls_server: GET %s at %.2f\n" % (self.path, stream.elapsed()))
        if stream.scenario == "twohost" and path.startswith("/live/"):
            host = (self.headers.get("Host") or "").rpartition(":")[0]
            if host == "localhost" and "edge" in self.cookies():
                return self.send_body(400, b"a cookie of 127.0.0.1 sent to localhost\n", "text/plain")
            if host == "127.0.0.1" and path != "/live/index.m3u8" and self.cookies().get("edge") != "E1":
                return self.send_body(403, b"the edge cookie is missing\n", "text/plain")
        if path.startswith("/chain/"):
            # /chain/N/K: N more redirects, then live segment K
            hops, _, k = path[7:].partition("/")
            if hops == "0":
                return self.redirect("/direct/%s" % k)
            return self.redirect("/chain/%d/%s" % (int(hops) - 1, k))
        if path.startswith("/live/out_seg"):
            return self.redirect("http://127.0.0.1:%d/live/%s" % (stream.args.other_port, path[10:]))
        if path.startswith("/live/chain3_seg") or path.startswith("/live/chain2_seg"):
            # the chain's first redirect is this one
            return self.redirect("/chain/%d/%s" % (int(path[11]) - 2, stream.find_segment(path[6:])))
        if path.startswith("/aes/"):
            return self.send_file(stream.args.aes, path[5:])
        if path.startswith("/ranges/"):
            return self.send_file(stream.args.ranges, path[8:])
        if path == "/token":
            token = "%d" % (time.time() * 1000)
            with stream.lock:
                stream.tokens[token] = time.time()
            url = "http://127.0.0.1:%d/live/index.m3u8?token=%s\n" % (self.server.server_port, token)
            return self.send_body(200, url.encode(), "text/plain")
        if path == "/live/master.m3u8":
            body = ("#EXTM3U\n"
                    "#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,CODECS=\"avc1.640028,mp4a.40.2\"\n"
                    "missing_1080p.m3u8\n"
                    "#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x180,CODECS=\"avc1.64000d,mp4a.40.2\"\n"
                    "index.m3u8\n"
                    "#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\"\n"
                    "missing_audio.m3u8\n")
            return self.send_body(200, body.encode(), "application/vnd.apple.mpegurl")
        if path == "/live/moved.m3u8":
            return self.redirect("http://localhost:%d/live/index.m3u8" % self.server.server_port)
        if path.startswith("/live/redirect_seg"):
            k = stream.find_segment(path[6:])
            return self.redirect("http://localhost:%d/direct/%s" % (self.server.server_port, k))
        if path.startswith("/direct/") and path[8:].isdigit():
            return self.send_body(200, stream.segment_bytes(int(path[8:])), "video/mp2t")
        if path == "/live/index.m3u8":
            if stream.scenario == "pl500" and 4 <= stream.elapsed() < 7:
                return self.send_body(500, b"overloaded\n", "text/plain")
            if stream.scenario == "token":
                issued = stream.tokens.get(dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("token", ""))
                if issued is None or time.time() - issued > 4:
                    return self.send_body(403, b"token expired\n", "text/plain")
            cookie = "edge=E1; Path=/; HttpOnly" if stream.scenario == "twohost" else None
            return self.send_body(200, stream.media_playlist().encode(), "application/vnd.apple.mpegurl", cookie)
        if path == "/live/f_init.mp4":
            with open(os.path.join(stream.args.fmp4, "init.mp4"), "rb") as f:
                return self.send_body(200, f.read(), "video/mp4")
        if path.startswith("/vod/"):
            return self.send_file(stream.args.fmp4, path[5:])
        if path.startswith("/live/") and stream.scenario == "normal":
            expected = {"X-Streamcut-Test": "yes", "Cookie": "session=abc; theme=dark", "User-Agent": "streamcut-test/1"}
            for header, value in expected.items():
                if self.headers.get(header) != value:
                    message = "%s: %r, expected %r\n" % (header, self.headers.get(header), value)
                    return self.send_body(400, message.encode(), "text/plain")
        if path.startswith("/live/"):
            k = stream.find_segment(path[6:])
            if k is None:
                return self.send_body(404, b"not found\n", "text/plain")
            if stream.scenario == "seg404" and k == stream.switch_index(4):
                return self.send_body(404, b"gone\n", "text/plain")
            # A segment that does not exist yet (a prefetch): held until it does.
            due = stream.epoch + (k + 1) * SEGMENT_SECONDS
            if due > time.time() + 3:
                return self.send_body(404, b"not yet\n", "text/plain")
            if due > time.time():
                time.sleep(due - time.time())
            return self.send_body(200, stream.segment_bytes(k), "video/mp2t")
        return self.send_body(404, b"not found\n", "text/plain")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def log_event(self, event):
        if not self.log:
            return
        with self.log_lock:
            self.log.write(json.dumps(event) + "\n")
            self.log.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--resolve")
    parser.add_argument("--media")
    parser.add_argument("--alt")
    parser.add_argument("--fmp4")
    parser.add_argument("--scenario", default="normal")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--t0", type=float, default=0)
    parser.add_argument("--window", type=int, default=6)
    parser.add_argument("--preroll", type=float, default=10)
    parser.add_argument("--other-port", type=int, default=0)
    parser.add_argument("--aes")
    parser.add_argument("--ranges")
    parser.add_argument("--log")
    parser.add_argument("--tls", nargs=2)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.resolve:
        with urllib.request.urlopen(args.resolve, timeout=5) as answer:
            sys.stdout.write(answer.read().decode())
        return
    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*args.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.log = open(args.log, "a") if args.log else None
    server.log_lock = threading.Lock()
    server.connection_numbers = itertools.count(1)
    server.stream = Stream(args)
    server.stream.port = server.server_port
    print("PORT %d" % server.server_port, flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
