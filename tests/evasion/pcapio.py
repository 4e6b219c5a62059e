"""pcapio - a small pure-python pcap / pcapng reader and pcap writer, plus
IPv4/IPv6 TCP decoding and re-encoding, for the evasion and fuzz-seed tools.

Only what the tools need: read every frame of a pcap or pcapng file (any
byte order, us or ns timestamps), split frames into link header + IP/TCP,
and rebuild a frame after its TCP payload or sequence number changed
(lengths and IPv4/TCP checksums recomputed).
"""
import struct

LINK_ETHERNET, LINK_NULL, LINK_RAW, LINK_LOOP = 1, 0, 101, 108
LINK_SLL, LINK_SLL2, LINK_IPV4, LINK_IPV6, LINK_RAW_OLD = 113, 276, 228, 229, 12


class Frame:
    """One captured frame: ts in ns, link type, bytes; orig_len as captured."""
    __slots__ = ("ts", "link", "data", "orig_len")

    def __init__(self, ts, link, data, orig_len=None):
        self.ts, self.link, self.data = ts, link, data
        self.orig_len = len(data) if orig_len is None else orig_len


def _read_pcap(buf):
    magic = buf[:4]
    table = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
             b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1)}
    e, mult = table[magic]
    link = struct.unpack(e + "I", buf[20:24])[0] & 0x0FFFFFFF
    off, frames = 24, []
    while off + 16 <= len(buf):
        sec, frac, incl, orig = struct.unpack(e + "IIII", buf[off:off + 16])
        off += 16
        if off + incl > len(buf):
            break
        frames.append(Frame(sec * 10**9 + frac * mult, link, bytes(buf[off:off + incl]), orig))
        off += incl
    return frames


def _read_pcapng(buf):
    frames, links, tsres, e, off = [], [], [], "<", 0
    while off + 12 <= len(buf):
        btype = struct.unpack(e + "I", buf[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            e = "<" if buf[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links, tsres = [], []
        blen = struct.unpack(e + "I", buf[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(buf):
            break
        body = buf[off + 8:off + blen - 4]
        if btype == 1:  # IDB
            links.append(struct.unpack(e + "H", body[:2])[0])
            res = 10**3  # default microseconds -> ns multiplier
            o = 8
            while o + 4 <= len(body):
                code, ln = struct.unpack(e + "HH", body[o:o + 4])
                if code == 0:
                    break
                if code == 9 and ln >= 1:
                    v = body[o + 4]
                    res = (10**9 // 10**v) if not v & 0x80 and v <= 9 else 1
                o += 4 + ((ln + 3) & ~3)
            tsres.append(res)
        elif btype == 6 and len(body) >= 20:  # EPB
            ifid, hi, lo, cap, orig = struct.unpack(e + "IIIII", body[:20])
            if ifid < len(links):
                frames.append(Frame(((hi << 32) | lo) * tsres[ifid], links[ifid],
                                    bytes(body[20:20 + cap]), orig))
        elif btype == 3 and links:  # SPB
            orig = struct.unpack(e + "I", body[:4])[0]
            frames.append(Frame(0, links[0], bytes(body[4:4 + orig]), orig))
        off += blen
    return frames


def read(path):
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] == b"\x0a\x0d\x0d\x0a":
        return _read_pcapng(buf)
    return _read_pcap(buf)


def write(path, frames, link=None):
    """Write frames as a little-endian nanosecond pcap (one link type)."""
    link = frames[0].link if link is None and frames else (link or LINK_ETHERNET)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, link))
        for fr in frames:
            f.write(struct.pack("<IIII", fr.ts // 10**9, fr.ts % 10**9, len(fr.data), fr.orig_len))
            f.write(fr.data)


def _l3_offset(link, d):
    """Offset of the IP header in a frame, or None."""
    if link == LINK_ETHERNET:
        off, et = 14, struct.unpack(">H", d[12:14])[0] if len(d) >= 14 else 0
        while et in (0x8100, 0x88A8) and len(d) >= off + 4:
            et = struct.unpack(">H", d[off + 2:off + 4])[0]
            off += 4
        return off if et in (0x0800, 0x86DD) else None
    if link in (LINK_RAW, LINK_RAW_OLD, LINK_IPV4, LINK_IPV6):
        return 0
    if link in (LINK_NULL, LINK_LOOP):
        return 4
    if link == LINK_SLL:
        return 16
    if link == LINK_SLL2:
        return 20
    return None


class Tcp:
    """A decoded TCP segment inside a frame (IPv4 or IPv6, no extension headers)."""
    __slots__ = ("frame", "l3", "v", "src", "dst", "sport", "dport", "seq", "ack",
                 "flags", "hlen_ip", "hlen_tcp", "payload")

    def key(self):
        return (self.src, self.sport, self.dst, self.dport)


def tcp(frame):
    d, l3 = frame.data, _l3_offset(frame.link, frame.data)
    if l3 is None or len(d) < l3 + 20:
        return None
    t = Tcp()
    t.frame, t.l3, t.v = frame, l3, d[l3] >> 4
    if t.v == 4:
        ihl = (d[l3] & 15) * 4
        if d[l3 + 9] != 6 or ihl < 20 or struct.unpack(">H", d[l3 + 6:l3 + 8])[0] & 0x3FFF:
            return None
        tot = struct.unpack(">H", d[l3 + 2:l3 + 4])[0]
        t.src, t.dst, t.hlen_ip = d[l3 + 12:l3 + 16], d[l3 + 16:l3 + 20], ihl
        end = min(len(d), l3 + tot)
    elif t.v == 6 and len(d) >= l3 + 40:
        if d[l3 + 6] != 6:
            return None
        t.src, t.dst, t.hlen_ip = d[l3 + 8:l3 + 24], d[l3 + 24:l3 + 40], 40
        end = min(len(d), l3 + 40 + struct.unpack(">H", d[l3 + 4:l3 + 6])[0])
    else:
        return None
    o = l3 + t.hlen_ip
    if len(d) < o + 20:
        return None
    t.sport, t.dport, t.seq, t.ack = struct.unpack(">HHII", d[o:o + 12])
    t.hlen_tcp = (d[o + 12] >> 4) * 4
    t.flags = d[o + 13]
    if t.hlen_tcp < 20 or o + t.hlen_tcp > end:
        return None
    t.payload = bytes(d[o + t.hlen_tcp:end])
    return t


def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def rebuild(t, payload=None, seq=None, flags=None, ts=None):
    """A new Frame for segment t with its payload / seq / flags replaced."""
    d = bytearray(t.frame.data)
    l3, o = t.l3, t.l3 + t.hlen_ip
    payload = t.payload if payload is None else payload
    hdr = bytearray(d[o:o + t.hlen_tcp])
    struct.pack_into(">I", hdr, 4, t.seq if seq is None else seq & 0xFFFFFFFF)
    if flags is not None:
        hdr[13] = flags
    hdr[16:18] = b"\0\0"
    ip = bytearray(d[l3:l3 + t.hlen_ip])
    if t.v == 4:
        struct.pack_into(">H", ip, 2, t.hlen_ip + len(hdr) + len(payload))
        ip[10:12] = b"\0\0"
        struct.pack_into(">H", ip, 10, _csum(bytes(ip)))
        pseudo = ip[12:20] + struct.pack(">BBH", 0, 6, len(hdr) + len(payload))
    else:
        struct.pack_into(">H", ip, 4, len(hdr) + len(payload))
        pseudo = ip[8:40] + struct.pack(">IxxxB", len(hdr) + len(payload), 6)
    struct.pack_into(">H", hdr, 16, _csum(bytes(pseudo) + bytes(hdr) + payload))
    data = bytes(d[:l3]) + bytes(ip) + bytes(hdr) + payload
    return Frame(t.frame.ts if ts is None else ts, t.frame.link, data)


def flows(frames):
    """Group TCP segments by connection: {canonical key: [Tcp, ...]} in capture order.
    The client is the SYN sender, else the side with the higher port."""
    out, client = {}, {}
    for fr in frames:
        t = tcp(fr)
        if t is None:
            continue
        a, b = (t.src, t.sport), (t.dst, t.dport)
        k = (a, b) if a <= b else (b, a)
        if k not in client:
            if t.flags & 0x12 == 0x02:
                client[k] = a
            elif t.flags & 0x12 == 0x12:
                client[k] = b
            else:
                client[k] = a if t.sport > t.dport else b
        out.setdefault(k, []).append(t)
    return out, client


def _pad4(b):
    return b + b"\0" * (-len(b) % 4)


def pcapng_bytes(frames, links):
    """A little-endian pcapng image: one SHB, one IDB per entry of links (ns
    resolution), one EPB per frame.  frames: [(ifid, Frame)]."""
    def block(btype, body):
        body = _pad4(body)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for link in links:
        opt = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)  # if_tsresol = 10^-9
        out.append(block(1, struct.pack("<HHI", link, 0, 262144) + opt))
    for ifid, fr in frames:
        out.append(block(6, struct.pack("<IIIII", ifid, fr.ts >> 32, fr.ts & 0xFFFFFFFF,
                                        len(fr.data), fr.orig_len) + fr.data))
    return b"".join(out)


def strip_link(frame):
    """The frame as DLT_RAW (link header removed), or None."""
    off = _l3_offset(frame.link, frame.data)
    if off is None:
        return None
    return Frame(frame.ts, LINK_RAW, frame.data[off:], frame.orig_len - off)
