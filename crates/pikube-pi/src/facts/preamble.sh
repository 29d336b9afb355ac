# shellcheck shell=sh
# Shared helpers of pikube's node scripts (facts, k3s state): POSIX sh,
# prints the sectioned format described in script.sh. Only defines functions; a script
# using them runs its body as `{ BODY } | pk_frame` (pikube_pi::framed_script does).

export LC_ALL=C       # stable, untranslated command output
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

pk_nl='
'
pk_timeout=
if command -v timeout >/dev/null 2>&1; then pk_timeout='timeout 10'; fi

# A section's content goes to stdout as it is, between two marker lines that start
# with this run's random token; pk_frame (one awk for the whole script, run after
# the script's body as `{ ... } | pk_frame`) turns them into the format's markers and
# prefixes every content line with "|". Content cannot forge a marker: it would have
# to guess the token. One awk instead of a sed per section, and commands and files
# written straight out instead of through command substitutions, make the script
# fork about three times less (the facts are read on every plan).
pk_mark=
read -r pk_mark 2>/dev/null </proc/sys/kernel/random/uuid
[ -n "$pk_mark" ] || pk_mark="$$.$(date +%s%N 2>/dev/null)"
pk_mark="@@$pk_mark"

# pk_begin NAME / pk_end NAME RC: around a section's content.
pk_begin() { printf '%s@@begin %s\n' "$pk_mark" "$1"; }
pk_end() { printf '%s@@end %s rc=%s\n' "$pk_mark" "$1" "$2"; }

# pk_frame: the output format from the markers above. A content that did not end with
# a newline is followed by its end marker on the same line: eol=0.
pk_frame() {
  awk -v m="$pk_mark" '
    BEGIN { b = m "@@begin "; e = m "@@end "; inside = 0; fresh = 0 }
    function close_section(rest, eol,    parts) {
      split(rest, parts, " ")
      printf "@@end %s eol=%d %s\n", parts[1], eol, parts[2]
      inside = 0
    }
    index($0, b) == 1 { print "@@begin " substr($0, length(b) + 1); inside = 1; fresh = 1; next }
    index($0, e) == 1 { close_section(substr($0, length(e) + 1), fresh ? 0 : 1); next }
    inside && (i = index($0, e)) > 1 {
      print "|" substr($0, 1, i - 1)
      close_section(substr($0, i + length(e)), 0)
      next
    }
    inside { print "|" $0; fresh = 0; next }
    { print }
  '
}

# pk_section NAME RC BODY: BODY as a section (its last newline, or its lack, kept).
pk_section() {
  pk_begin "$1"
  printf '%s' "$3"
  pk_end "$1" "$2"
}

pk_absent() { printf '@@absent %s\n' "$1"; }

# pk_file NAME PATH: the file's exact content, or absent.
pk_file() {
  if [ -f "$2" ] && [ -r "$2" ]; then
    pk_begin "$1"
    cat -- "$2" 2>/dev/null </dev/null
    pk_end "$1" 0
    return 0
  fi
  pk_absent "$1"
}

# pk_cmd NAME COMMAND [ARGS...]: output and exit status, or absent when the
# command is not installed.
pk_cmd() {
  pk_name=$1; shift
  if command -v "$1" >/dev/null 2>&1; then
    pk_begin "$pk_name"
    $pk_timeout "$@" 2>/dev/null </dev/null
    pk_end "$pk_name" "$?"
  else
    pk_absent "$pk_name"
  fi
}

# pk_value NAME VALUE: a computed one-line fact; an empty VALUE means absent.
pk_value() {
  if [ -n "$2" ]; then pk_section "$1" 0 "$2$pk_nl"; else pk_absent "$1"; fi
}

