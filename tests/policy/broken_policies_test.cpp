// Broken policies, one mistake each, and the exact error an operator sees:
// line, column and message. The table reads as the catalogue of what the
// loader refuses and how it says so.
#include <catch2/catch.hpp>

#include <string>

#include "control/policy/loader.hpp"

using namespace sluice::policy;

namespace {

// Lines 1-8 of every case: a valid policy with one upload class "a".
// Each case's own text starts on line 9.
constexpr std::string_view kBase = R"([upload]
rate = "10mbit"
default_class = "a"
[download]
rate = "50mbit"
[[upload.class]]
name = "a"
rate = "1mbit"
)";

struct BrokenCase {
    const char* what;
    std::string text;  // appended to kBase unless `whole`
    uint32_t line;
    uint32_t column;
    std::string message;
    bool whole = false;
};

std::string text_of(const BrokenCase& c) { return c.whole ? c.text : std::string(kBase) + c.text; }

const BrokenCase kCases[] = {
    // ---- the file and its top level
    // ---- TOML syntax, in the project's words (control/policy/toml_errors.cpp)
    {"a second =", "weight = = 3\n", 9, 10,
     "not a value: write text and quantities in quotes (\"10mbit\"), numbers bare (3), true or false, or a list "
     "such as [22, 443]"},
    {"unquoted port range that TOML takes for a date", "[[rule]]\ndst_port = 1000-2000\nupload_class = \"a\"\n", 10, 12,
     "unquoted port range 1000-2000; write a port range as a string, e.g. dst_port = \"1000-2000\""},
    {"a date", "ceil = 2024-13-01\n", 9, 15,
     "TOML reads this as a date, which no policy key takes; write port ranges and other text in quotes, e.g. "
     "dst_port = \"1000-2000\""},
    {"a time of day", "ceil = 12:30\n", 9, 13,
     "TOML reads this as a time of day, which no policy key takes; write times and text in quotes, e.g. target = "
     "\"5ms\""},
    {"a key with two dots in a row", "a.b. = 1\n", 9, 6,
     "missing key: a key is a word such as rate or default_class (letters, digits, _ and -), with at most one dot "
     "between words"},
    {"a line that starts with =", "= 5\n", 9, 1,
     "unexpected text: a line holds key = value, a [table] or [[table]] header, or a # comment"},
    {"two underscores in a number", "weight = 1_000__0\n", 9, 16,
     "misplaced _ in a number: write it only between two digits (1_000), or write the number without it"},
    {"a leading zero", "weight = 0123\n", 9, 14,
     "a number may not start with 0 (0123): write 123, or \"0123\" in quotes for text"},
    {"a fraction without a leading digit", "weight = .5\n", 9, 10,
     "a number with a point needs digits on both sides of it: 0.5, 5.0"},
    {"a binary number with a 2", "weight = 0b2\n", 9, 12,
     "not a number: after 0x, 0o or 0b come only hexadecimal, octal or binary digits; write numbers in decimal, "
     "e.g. 46"},
    {"an unknown escape", "ceil = \"a\\qb\"\n", 9, 11,
     "unknown escape in a string: inside \"...\" a backslash starts \\\\, \\\", \\n, \\t or \\uXXXX; write \\\\ "
     "for a backslash, or use '...' where backslashes are plain"},
    {"unquoted port range", "[[rule]]\ndst_port = 5060-5061\nupload_class = \"a\"\n", 10, 12,
     "unquoted port range 5060-5061; write a port range as a string, e.g. dst_port = \"5060-5061\""},
    {"unquoted port range with spaces, in a list", "[[rule]]\ndst_port = [22, 5060 - 5061]\n", 10, 17,
     "unquoted port range 5060 - 5061; write a port range as a string, e.g. \"5060-5061\""},
    {"unquoted rate", "ceil = 10mbit\n", 9, 8,
     "unquoted 10mbit; write rates, sizes, times and shares as strings, e.g. ceil = \"10mbit\""},
    {"unquoted rate with a fraction and a space", "ceil = 1.5 mbit # the most\n", 9, 8,
     "unquoted 1.5 mbit; write rates, sizes, times and shares as strings, e.g. ceil = \"1.5mbit\""},
    {"unquoted share", "ceil = 50%\n", 9, 8,
     "unquoted 50%; write rates, sizes, times and shares as strings, e.g. ceil = \"50%\""},
    {"unquoted prefix", "[[rule]]\nsrc = 10.0.0.0/8\n", 10, 7,
     "unquoted address 10.0.0.0/8; write addresses and prefixes as strings, e.g. src = \"10.0.0.0/8\""},
    {"unquoted IPv6 address in a list", "[[rule]]\ndst = [\"10.0.0.1\", fd00::1]\n", 10, 20,
     "unquoted address fd00::1; write addresses and prefixes as strings, e.g. \"fd00::1\""},
    {"capitalised boolean", "[[rule]]\nfragment = True\n", 10, 12,
     "True is not a boolean; TOML's are lowercase: true or false"},
    {"unquoted name", "queue = fq_codel\n", 9, 9,
     "unquoted text fq_codel; write names and other words as strings, e.g. queue = \"fq_codel\""},
    {"missing closing quote", "[[upload.class]]\nname = \"b\nrate = \"1mbit\"\n", 10, 10,
     "missing closing quote: a string ends with \" on the line it starts on"},
    {"missing closing quote of a literal string", "queue = 'fifo\n", 9, 14,
     "missing closing quote: a string ends with ' on the line it starts on"},
    {"missing closing quote at the end of the file", "queue = \"fifo", 9, 14,
     "missing closing quote: a string ends with \" on the line it starts on"},
    {"missing closing bracket", "[[rule]]\ndst_port = [22, 443\nupload_class = \"a\"\n", 11, 1,
     "missing closing ] or a comma: a list such as [22, 443] separates its items with commas and ends with ]"},
    {"missing comma in a list", "[[rule]]\ndst_port = [22 443]\n", 10, 16,
     "missing closing ] or a comma: a list such as [22, 443] separates its items with commas and ends with ]"},
    {"missing closing bracket at the end of the file", "[[rule]]\ndst_port = [22, 443", 10, 20,
     "missing closing ]: a list such as [22, 443] ends with ]"},
    {"missing closing brace",
     "[upload]\nrate = \"1mbit\"\noverhead = { bytes = 8, mpu = 64\n[download]\nrate = \"1mbit\"\n", 3, 33,
     "missing closing }: an inline table such as { bytes = 8, mpu = 64 } ends with } on the line it starts on", true},
    {"table header not closed", "[[upload.class]\nname = \"b\"\n", 9, 16,
     "table header not closed: write it on one line as [name] or [[name]], with no spaces in the name"},
    {"duplicate key", "weight = 2\nweight = 3\n", 10, 1,
     "duplicate key \"weight\": it is already set above in this table; keep one"},
    {"duplicate boolean key", "[[rule]]\nfragment = true\nfragment = true\n", 11, 1,
     "duplicate key \"fragment\": it is already set above in this table; keep one"},
    {"duplicate table", "[upload]\n", 9, 1,
     "duplicate table [upload]: it is already defined above; put all its keys under one header"},
    {"a table where a list of tables is", "[upload.class]\n", 9, 1,
     "[upload.class] is already a list of tables; write [[upload.class]] to add another entry"},
    {"a list of tables where a table is", "[[download]]\n", 9, 1,
     "[[download]] clashes with the table [download] above; use [[download]] for every entry, or [download] once"},
    {"a table where a key is", "[upload.rate]\n", 9, 1,
     "[upload.rate] clashes with the key \"upload.rate\" set above; a key cannot also be a table"},
    {"key without a value", "[[rule]]\nfragment\n", 10, 9, "missing = after the key: write key = value, e.g. rate = \"10mbit\""},
    {"key and value without =", "queue \"fifo\"\n", 9, 7, "missing = after the key: write key = value, e.g. rate = \"10mbit\""},
    {"text after a value", "queue = \"fifo\" codel\n", 9, 16,
     "unexpected text after the value: write one key = value per line, and start a comment with #"},
    {"two values on a line", "weight = 1 2\n", 9, 12,
     "unexpected text after the value: write one key = value per line, and start a comment with #"},
    {"text after a table header", "[[rule]] dscp = 46\n", 9, 10, "unexpected text after the table header; start a comment with #"},
    {"table header cut off at the end of the file", "[[rule", 9, 7,
     "table header not closed: write it on one line as [name] or [[name]], with no spaces in the name"},
    {"file cut off after a key", "[[rule]]\nfragment =", 10, 11, "the file ends before this key = value is complete"},
    {"a word cut off in a table header", "[[upload.cl\n", 9, 12,
     "table header not closed: write it on one line as [name] or [[name]], with no spaces in the name"},
    {"missing value", "weight =\n", 9, 9, "missing value after =; write the value on the same line, e.g. rate = \"10mbit\""},

    {"unknown top-level key, near a valid one", "[[rules]]\nclass = \"a\"\n", 9, 3,
     "unknown key \"rules\" in the policy; did you mean \"rule\"?"},
    {"unknown top-level key, nothing near", "[shaping]\n", 9, 2,
     "unknown key \"shaping\" in the policy; valid keys are version, upload, download, rule, meter, management"},
    {"unsupported version", "version = 2\n[upload]\nrate = \"1mbit\"\n[download]\nrate = \"1mbit\"\n", 1, 11,
     "version: this sluiced reads policy version 1; write version = 1", true},
    {"missing download", "[upload]\nrate = \"10mbit\"\n", 1, 1,
     "the policy has no [download] table; every policy shapes both directions, add [download] with at least rate = \"<link rate>\"", true},
    {"direction is not a table", "upload = \"10mbit\"\n[download]\nrate = \"1mbit\"\n", 1, 10,
     "upload must be a table ([upload]), not a string", true},

    // ---- links and units
    {"link without rate", "[upload]\noverhead = \"ethernet\"\n[download]\nrate = \"1mbit\"\n", 1, 1,
     "[upload] needs rate: the rate to shape the link to, a little below what it really carries, e.g. rate = \"95mbit\"", true},
    {"rate without unit", "[upload]\nrate = 10000000\n[download]\nrate = \"1mbit\"\n", 2, 8,
     "rate: a rate needs a unit; write e.g. \"20mbit\" (bits/s) or \"2500kBps\" (bytes/s)", true},
    {"rate with unknown unit", "[upload]\nrate = \"10mbits\"\n[download]\nrate = \"1mbit\"\n", 2, 8,
     "rate: unknown rate unit \"mbits\"; use one of bit, kbit, mbit, gbit, tbit, kibit, mibit, gibit, tibit, bps, kbps, mbps, gbps, tbps, kibps, mibps, gibps, tibps", true},
    {"rate that is not a number", "[upload]\nrate = \"fast\"\n[download]\nrate = \"1mbit\"\n", 2, 8,
     "rate: \"fast\" is not a rate; write a number and a unit, e.g. \"20mbit\"", true},
    {"zero rate", "[upload]\nrate = \"0mbit\"\n[download]\nrate = \"1mbit\"\n", 2, 8, "rate: a rate must be above zero", true},
    {"link rate as a percentage", "[upload]\nrate = \"50%\"\n[download]\nrate = \"1mbit\"\n", 2, 8,
     "rate: unknown rate unit \"%\"; use one of bit, kbit, mbit, gbit, tbit, kibit, mibit, gibit, tibit, bps, kbps, mbps, gbps, tbps, kibps, mibps, gibps, tibps", true},
    {"unknown overhead preset", "[upload]\nrate = \"1mbit\"\noverhead = \"adsl\"\n[download]\nrate = \"1mbit\"\n", 3, 12,
     "overhead: unknown preset \"adsl\"; use one of raw, ethernet, ethernet-vlan, pppoe-ethernet, docsis, pppoa-vcmux, pppoa-llc, pppoe-vcmux, pppoe-llcsnap, bridged-vcmux, bridged-llcsnap, pppoe-ptm, bridged-ptm, pppoe-vdsl, bridged-vdsl, conservative, or a table {bytes, mpu, framing}", true},
    {"overhead framing unknown", "[upload]\nrate = \"1mbit\"\noverhead = { bytes = 8, framing = \"atm2\" }\n[download]\nrate = \"1mbit\"\n", 3, 35,
     "framing: unknown framing \"atm2\"; use none, atm or ptm", true},
    {"unknown key in a direction", "[upload]\nrate = \"1mbit\"\ndefault = \"a\"\n[download]\nrate = \"1mbit\"\n", 3, 1,
     "unknown key \"default\" in [upload]; did you mean \"default_class\"?", true},
    {"classes without default_class", "[upload]\nrate = \"1mbit\"\n[[upload.class]]\nname = \"a\"\nrate = \"1mbit\"\n[download]\nrate = \"1mbit\"\n", 1, 1,
     "[upload] has classes but no default_class; add default_class = \"<leaf class>\" for packets no rule matches", true},

    // ---- classes
    {"misspelt class key", "pirority = 1\n", 9, 1, "unknown key \"pirority\" in [[upload.class]]; did you mean \"priority\"?"},
    {"tc's name for a class key", "prio = 1\n", 9, 1, "unknown key \"prio\" in [[upload.class]]; did you mean \"priority\"?"},
    {"a rule's key in a class", "dscp = \"EF\"\n", 9, 1, "unknown key \"dscp\" in [[upload.class]]; did you mean \"set_dscp\"?"},
    {"class without name", "[[upload.class]]\nrate = \"1mbit\"\n", 9, 1,
     "[[upload.class]] needs name: give every class a unique name, e.g. name = \"voice\""},
    {"class without rate", "[[upload.class]]\nname = \"b\"\n", 9, 1,
     "[[upload.class]] needs rate: the assured rate, e.g. rate = \"2mbit\" or rate = \"30%\" of the parent"},
    {"duplicate class name", "[[upload.class]]\nname = \"a\"\nrate = \"1mbit\"\n", 10, 8,
     "class \"a\" is already defined in upload at line 6; class names must be unique within a direction"},
    {"class named root", "[[upload.class]]\nname = \"root\"\nrate = \"1mbit\"\n", 10, 8,
     "name: \"root\" is the link itself; choose another name for this class"},
    {"unknown parent, near name", "[[upload.class]]\nname = \"b\"\nparent = \"aa\"\nrate = \"1mbit\"\n", 11, 10,
     "parent \"aa\" is not a class in upload; did you mean \"a\"?"},
    {"class is its own parent", "[[upload.class]]\nname = \"b\"\nparent = \"b\"\nrate = \"1mbit\"\n", 11, 10,
     "class \"b\" is its own ancestor (b -> b); one of these classes must have a parent outside the loop"},
    {"cycle of three",
     "[[upload.class]]\nname = \"b\"\nparent = \"d\"\nrate = \"1mbit\"\n[[upload.class]]\nname = \"c\"\nparent = \"b\"\nrate = \"1mbit\"\n"
     "[[upload.class]]\nname = \"d\"\nparent = \"c\"\nrate = \"1mbit\"\n",
     11, 10, "class \"b\" is its own ancestor (b -> d -> c -> b); one of these classes must have a parent outside the loop"},
    {"class rate above the link", "[[upload.class]]\nname = \"b\"\nrate = \"20mbit\"\n", 11, 8,
     "rate 20mbit is above the upload link rate 10mbit; a class cannot be assured more than the link"},
    {"ceil above the link", "[[upload.class]]\nname = \"b\"\nrate = \"1mbit\"\nceil = \"11mbit\"\n", 12, 8,
     "ceil 11mbit is above the upload link rate 10mbit; write at most 10mbit"},
    {"ceil below rate", "[[upload.class]]\nname = \"b\"\nrate = \"2mbit\"\nceil = \"1mbit\"\n", 12, 8,
     "ceil 1mbit is below rate 2mbit; ceil must be at least the rate (leave ceil out to borrow up to the parent's)"},
    {"ceil above the parent's ceil",
     "[[upload.class]]\nname = \"p\"\nrate = \"2mbit\"\nceil = \"4mbit\"\n[[upload.class]]\nname = \"c\"\nparent = \"p\"\nrate = \"1mbit\"\nceil = \"5mbit\"\n",
     17, 8, "ceil 5mbit is above the ceil 4mbit of parent \"p\"; a class cannot borrow more than its parent may use"},
    {"children's rates above the parent's",
     "[[upload.class]]\nname = \"p\"\nrate = \"2mbit\"\n[[upload.class]]\nname = \"c1\"\nparent = \"p\"\nrate = \"1500kbit\"\n"
     "[[upload.class]]\nname = \"c2\"\nparent = \"p\"\nrate = \"1mbit\"\n",
     11, 8, "the children of \"p\" are assured 2500kbit, more than its rate 2mbit; lower their rates or raise the parent's"},
    {"classes' rates above the link", "[[upload.class]]\nname = \"b\"\nrate = \"9500kbit\"\n", 2, 8,
     "the children of the upload link are assured 10500kbit, more than its rate 10mbit; lower their rates or raise the parent's"},
    {"percentage above 100", "[[upload.class]]\nname = \"b\"\nrate = \"120%\"\n", 11, 8,
     "rate: \"120%\" is out of range; a share is above 0% and at most 100%"},
    {"priority out of range", "priority = 8\n", 9, 12, "priority 8 is out of range; write 0 (served first) to 7"},
    {"weight zero", "weight = 0\n", 9, 10, "weight 0 is out of range; write 1 to 65535"},
    {"unknown queue kind", "queue = \"red\"\n", 9, 9, "queue: unknown queue \"red\"; use fifo, codel or fq_codel"},
    {"fq_codel key on a codel queue", "queue = \"codel\"\nflows = 64\n", 10, 9,
     "flows applies only to queue = \"fq_codel\"; this class's queue is \"codel\""},
    {"target not below interval", "target = \"200ms\"\n", 9, 10,
     "target 200000us must be below interval 100000us (RFC 8289 suggests 5-10% of it)"},
    {"time without unit", "target = 5\n", 9, 10, "target: a time needs a unit; write e.g. \"5ms\" or \"500us\""},
    {"burst smaller than a frame", "burst = 1000\n", 9, 9,
     "burst: 1000 bytes is less than one full frame; write at least 1514b, or leave it out for the default"},
    {"size with unknown unit", "cburst = \"10kbyte\"\n", 9, 10,
     "cburst: unknown size unit \"kbyte\"; use one of b, k, kb, kib, m, mb, mib, g, gb, gib"},
    {"class DSCP unknown name", "set_dscp = \"AF44\"\n", 9, 12,
     "set_dscp: \"AF44\" is not a DSCP; a DSCP is 0 to 63 or a name such as EF, AF41, CS1, LE"},
    {"default class unknown", "[download]\nrate = \"1mbit\"\ndefault_class = \"bulk\"\n[upload]\nrate = \"1mbit\"\n", 3, 17,
     "default_class \"bulk\" is not a class in download", true},
    {"default class is not a leaf",
     "[upload]\nrate = \"1mbit\"\ndefault_class = \"p\"\n[[upload.class]]\nname = \"p\"\nrate = \"1mbit\"\n[[upload.class]]\nname = \"c\"\nparent = \"p\"\nrate = \"1mbit\"\n[download]\nrate = \"1mbit\"\n",
     3, 17, "default_class \"p\" has child classes; name a leaf class, which holds a queue", true},

    // ---- rules
    {"rule names an unknown class", "[[rule]]\nupload_class = \"aa\"\n", 10, 16,
     "upload_class: \"aa\" is not a class in upload; did you mean \"a\"?"},
    {"class for both directions, missing in one", "[[rule]]\nclass = \"a\"\n", 10, 9,
     "class: \"a\" is not a class in download"},
    {"rule names a class with children",
     "[[upload.class]]\nname = \"p\"\nrate = \"2mbit\"\n[[upload.class]]\nname = \"c\"\nparent = \"p\"\nrate = \"1mbit\"\n[[rule]]\nupload_class = \"p\"\n",
     17, 16, "upload_class: class \"p\" in upload has child classes; a rule must name a leaf class, which holds a queue"},
    {"class and upload_class together", "[[rule]]\nside = \"lan\"\nclass = \"a\"\nupload_class = \"a\"\n", 12, 16,
     "upload_class and class both name a class; use class for both directions or upload_class/download_class for each"},
    {"reversed port range", "[[rule]]\nprotocol = \"tcp\"\ndst_port = \"8080-80\"\n", 11, 12,
     "dst_port: range \"8080-80\" is reversed; write \"80-8080\""},
    {"port out of range", "[[rule]]\nprotocol = \"udp\"\nsrc_port = [53, 70000]\n", 11, 17,
     "src_port: 70000 is not a port (0 to 65535)"},
    {"ports on a protocol without ports", "[[rule]]\nprotocol = \"icmp\"\ndst_port = 80\n", 11, 12,
     "dst_port: protocol icmp has no ports; ports apply to tcp, udp, sctp and udplite"},
    {"unknown protocol", "[[rule]]\nprotocol = \"tpc\"\n", 10, 12,
     "protocol: unknown protocol \"tpc\"; use tcp, udp, icmp, icmpv6, sctp, gre, esp, ah or a number"},
    {"IPv4 prefix with host bits", "[[rule]]\nsrc = \"10.1.2.3/8\"\n", 10, 7,
     "src: \"10.1.2.3/8\" has host bits set; did you mean \"10.0.0.0/8\"?"},
    {"IPv6 prefix with host bits", "[[rule]]\ndst = [\"2001:db8::/32\", \"2001:db8:1::1/48\"]\n", 10, 25,
     "dst: \"2001:db8:1::1/48\" has host bits set; did you mean \"2001:db8:1::/48\"?"},
    {"prefix length too long", "[[rule]]\nsrc = \"10.0.0.0/33\"\n", 10, 7, "src: prefix length in \"10.0.0.0/33\" must be 0 to 32"},
    {"not an address", "[[rule]]\nsrc = \"10.0.0.256\"\n", 10, 7,
     "src: \"10.0.0.256\" is not an IPv4 or IPv6 address; write e.g. \"192.0.2.0/24\" or \"2001:db8::/32\""},
    {"prefix family against ip version", "[[rule]]\nip = 6\nsrc = \"10.0.0.0/8\"\n", 11, 7,
     "src holds no IPv6 prefix, but the rule matches only IPv6"},
    {"src and dst of different versions", "[[rule]]\nsrc = \"10.0.0.0/8\"\ndst = \"2001:db8::/32\"\n", 11, 7,
     "src and dst are of different IP versions; this rule could never match. Split it into one rule per version"},
    {"unknown DSCP name in a set", "[[rule]]\ndscp = [\"EF\", \"AF5\"]\n", 10, 15,
     "dscp: \"AF5\" is not a DSCP; a DSCP is 0 to 63 or a name such as EF, AF41, CS1, LE"},
    {"DSCP number out of range", "[[rule]]\ndscp = 64\n", 10, 8,
     "dscp: 64 is out of range; a DSCP is 0 to 63 or a name such as EF, AF41, CS1, LE"},
    {"empty DSCP list", "[[rule]]\ndscp = []\n", 10, 8,
     "dscp: an empty list matches nothing; leave the key out to match any DSCP"},
    {"VLAN id out of range", "[[rule]]\nvlan = 5000\n", 10, 8, "vlan: 5000 is not a VLAN id (0 to 4095)"},
    {"PCP out of range", "[[rule]]\npcp = [1, 9]\n", 10, 11, "pcp: 9 is not a PCP (0 to 7)"},
    {"IP field on a non-IP ethertype", "[[rule]]\nethertype = \"arp\"\nprotocol = \"udp\"\n", 11, 12,
     "protocol is an IP field, but ethertype 2054 is not IP; this rule could never match"},
    {"IP version other than 4 or 6", "[[rule]]\nip = 5\n", 10, 6, "ip: 5 is not an IP version; write 4 or 6"},
    {"unknown side", "[[rule]]\nside = \"inside\"\n", 10, 8,
     "side: unknown side \"inside\"; use \"lan\" (upload traffic), \"wan\" (download traffic) or \"any\""},
    {"misspelt rule key", "[[rule]]\ndst_prot = 80\n", 10, 1, "unknown key \"dst_prot\" in [[rule]]; did you mean \"dst_port\"?"},
    {"fragment not a boolean", "[[rule]]\nfragment = \"yes\"\n", 10, 12, "fragment must be true or false, not a string"},
    {"duplicate rule name", "[[rule]]\nname = \"x\"\nset_dscp = 0\n[[rule]]\nname = \"x\"\nset_dscp = 1\n", 13, 8,
     "rule \"x\" is already defined at line 9; rule names must be unique"},
    {"unknown meter", "[[meter]]\nname = \"guest\"\ncir = \"1mbit\"\ncbs = \"10kb\"\n[[rule]]\nmeter = \"gust\"\n", 14, 9,
     "meter: \"gust\" is not a meter; did you mean \"guest\"?"},

    // ---- meters
    {"meter with unknown unit", "[[meter]]\nname = \"m\"\nunit = \"frames\"\ncir = \"1mbit\"\ncbs = \"10kb\"\n", 11, 8,
     "unit: unknown unit \"frames\"; use \"bytes\" or \"packets\""},
    {"packet meter with a bit rate", "[[meter]]\nname = \"m\"\nunit = \"packets\"\ncir = \"1mbit\"\ncbs = 10\n", 12, 7,
     "cir: \"1mbit\" is not a packet rate (this meter has unit = \"packets\"); write e.g. \"100pps\", \"2kpps\" or 100"},
    {"meter with unknown kind", "[[meter]]\nname = \"m\"\nkind = \"token\"\ncir = \"1mbit\"\ncbs = \"10kb\"\n", 11, 8,
     "kind: unknown meter kind \"token\"; use \"srtcm\" (RFC 2697, one rate) or \"trtcm\" (RFC 2698, two rates)"},
    {"trTCM peak below committed",
     "[[meter]]\nname = \"m\"\nkind = \"trtcm\"\ncir = \"2mbit\"\ncbs = \"10kb\"\npir = \"1mbit\"\npbs = \"20kb\"\n", 14, 7,
     "pir 1mbit is below cir 2mbit; RFC 2698 needs the peak rate at least the committed one"},
    {"remark without a DSCP", "[[meter]]\nname = \"m\"\ncir = \"1mbit\"\ncbs = \"10kb\"\nred = \"remark\"\n", 13, 7,
     "red = \"remark\" needs red_dscp, the DSCP to write, e.g. red_dscp = \"AF12\""},
    {"srTCM with a peak rate", "[[meter]]\nname = \"m\"\ncir = \"1mbit\"\ncbs = \"10kb\"\npir = \"2mbit\"\n", 13, 7,
     "pir belongs to kind = \"trtcm\"; this meter is srtcm"},
    {"a class's key in a meter", "[[meter]]\nname = \"m\"\nrate = \"1mbit\"\ncir = \"1mbit\"\ncbs = \"10kb\"\n", 11, 1,
     "unknown key \"rate\" in [[meter]]; did you mean \"cir\"?"},
    {"meter without cir", "[[meter]]\nname = \"m\"\ncbs = \"10kb\"\n", 9, 1,
     "[[meter]] needs cir: the committed rate, e.g. cir = \"10mbit\""},

    // ---- management
    {"management address with host bits", "[management]\naddresses = [\"192.168.1.1/24\"]\n", 10, 14,
     "addresses: \"192.168.1.1/24\" has host bits set; did you mean \"192.168.1.0/24\"?"},
    {"management service without protocol", "[management]\naddresses = [\"192.168.1.1\"]\n[[management.service]]\nports = [22]\n", 11, 1,
     "[[management.service]] needs protocol: e.g. protocol = \"tcp\""},
};

}  // namespace

TEST_CASE("every broken policy is refused with the error at its line and column") {
    REQUIRE(std::size(kCases) >= 40);
    for (const BrokenCase& c : kCases) {
        SECTION(c.what) {
            const LoadResult r = load_string(text_of(c), "case.toml");
            INFO(text_of(c));
            CHECK_FALSE(r.ok());
            std::vector<Diagnostic> errors;
            for (const Diagnostic& d : r.diagnostics)
                if (d.severity == Diagnostic::Severity::error) errors.push_back(d);
            std::string all;
            for (const Diagnostic& d : errors) all += format(d) + "\n";
            INFO(all);
            REQUIRE(errors.size() == 1);
            CHECK(errors[0].file == "case.toml");
            CHECK(errors[0].message == c.message);
            CHECK(errors[0].line == c.line);
            CHECK(errors[0].column == c.column);
        }
    }
}

TEST_CASE("the base of the broken cases is itself a valid policy") {
    const LoadResult r = load_string(kBase, "base.toml");
    CHECK(r.ok());
    CHECK(r.diagnostics.empty());
}

TEST_CASE("all errors of a file are reported in one run, in file order") {
    const std::string text = R"([upload]
rate = "10mbits"
[download]
rate = "1mbit"
default_class = "nope"
[[rule]]
protocol = "tcp"
dst_port = "90-80"
src = "10.0.0.1/8"
set_dscp = "CS1"
)";
    const LoadResult r = load_string(text, "many.toml");
    REQUIRE_FALSE(r.ok());
    std::string all;
    for (const Diagnostic& d : r.diagnostics) all += format(d) + "\n";
    INFO(all);
    REQUIRE(r.diagnostics.size() == 4);
    CHECK(r.diagnostics[0].line == 2);
    CHECK(r.diagnostics[1].line == 5);
    CHECK(r.diagnostics[2].line == 8);
    CHECK(r.diagnostics[3].line == 9);
}

TEST_CASE("a diagnostic formats as file:line:column: severity: message") {
    const Diagnostic e{Diagnostic::Severity::error, "/etc/sluice/home.toml", 12, 8, "ceil 1mbit is below rate 2mbit"};
    CHECK(format(e) == "/etc/sluice/home.toml:12:8: error: ceil 1mbit is below rate 2mbit");
    const Diagnostic w{Diagnostic::Severity::warning, "p.toml", 3, 1, "rule \"b\" can never match"};
    CHECK(format(w) == "p.toml:3:1: warning: rule \"b\" can never match");
}

TEST_CASE("a file that cannot be read is one error naming it") {
    const LoadResult r = load_file("/nonexistent/sluice/policy.toml");
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(format(r.diagnostics[0]) ==
          "/nonexistent/sluice/policy.toml:1:1: error: cannot read the policy file /nonexistent/sluice/policy.toml: "
          "No such file or directory");
}

TEST_CASE("a flood of errors is cut off with a count of the rest") {
    std::string text = "[upload]\nrate = \"1mbit\"\n[download]\nrate = \"1mbit\"\n";
    for (int i = 0; i < 1'200; ++i) text += "[[rule]]\nprotocol = \"nope\"\n";
    const LoadResult r = load_string(text, "flood.toml");
    REQUIRE_FALSE(r.ok());
    size_t errors = 0;
    for (const Diagnostic& d : r.diagnostics) errors += d.severity == Diagnostic::Severity::error;
    CHECK(errors == DiagnosticSink::kMaxErrors + 1);
    CHECK(r.diagnostics.back().message == "200 more errors not shown");
}
