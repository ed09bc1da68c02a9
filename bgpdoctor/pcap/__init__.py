"""Packet captures of BGP: written out by `bgpdoctor run --pcap-dir`, read by `bgpdoctor analyze`.

- ``files``: split one host's capture (a classic pcap, as ``tcpdump -w -`` writes it) per BGP
  session and write the files, without decoding anything but the addresses;
- ``analyze``: decode TCP 179 and BGP with scapy (imported lazily) and map what the wire shows to
  root causes from playbooks/;
- ``cli``: the `bgpdoctor analyze` command.
"""
