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

# Every line the format itself prints (header, trailer, markers) starts with this run's
# random token; pk_frame (one sed for the whole script, run after the script's body as
# `{ ... } | pk_frame`) strips it from those lines and prefixes every other line, the
# sections' content, with "|". Content cannot forge a marker: it would have to guess the
# token. One sed for the whole output instead of one per section (and its pipe) halves
# the processes the script starts (the facts are read on every plan). sed, not awk: mawk
# takes a minute over a single 100 MB line that sed passes in a second.
pk_mark=
read -r pk_mark 2>/dev/null </proc/sys/kernel/random/uuid
[ -n "$pk_mark" ] || pk_mark="$$-$(date +%s%N 2>/dev/null)"
pk_mark="@@$pk_mark"

# pk_line TEXT: a line of the format itself (the header and the trailer).
pk_line() { printf '%s%s\n' "$pk_mark" "$1"; }

# pk_frame: the output format from the lines above.
pk_frame() { sed -e "s/^$pk_mark//" -e t -e 's/^/|/'; }

# pk_section NAME RC BODY: print BODY as a section, remembering whether it
# ended with a newline (the edits must preserve that byte for byte).
pk_section() {
  pk_line "@@begin $1"
  pk_eol=0
  if [ -n "$3" ]; then
    case $3 in
      *"$pk_nl") pk_eol=1; printf '%s' "$3" ;;
      *) printf '%s\n' "$3" ;;
    esac
  fi
  pk_line "@@end $1 eol=$pk_eol rc=$2"
}

pk_absent() { pk_line "@@absent $1"; }

# pk_file and pk_cmd write content straight into the stream, not through a command
# substitution (a fork per section, and the whole content held in the shell), then one
# newline of their own so that the end marker starts a line: the parser drops that
# newline again (an end marker with eol=0 joins the lines without a last one), so the
# content comes back byte for byte, with or without its own last newline.

# pk_file NAME PATH: the file's exact content, or absent (also when reading it fails
# half-way: the absent marker after the end marker drops what was read).
pk_file() {
  if [ -f "$2" ] && [ -r "$2" ]; then
    pk_line "@@begin $1"
    if cat -- "$2" 2>/dev/null </dev/null; then pk_rc=0; else pk_rc=1; fi
    echo
    pk_line "@@end $1 eol=0 rc=0"
    [ "$pk_rc" = 0 ] || pk_absent "$1"
    return 0
  fi
  pk_absent "$1"
}

# pk_cmd NAME COMMAND [ARGS...]: output and exit status, or absent when the
# command is not installed.
pk_cmd() {
  pk_name=$1; shift
  if command -v "$1" >/dev/null 2>&1; then
    pk_line "@@begin $pk_name"
    $pk_timeout "$@" 2>/dev/null </dev/null
    pk_rc=$?
    echo
    pk_line "@@end $pk_name eol=0 rc=$pk_rc"
  else
    pk_absent "$pk_name"
  fi
}

# pk_value NAME VALUE: a computed one-line fact; an empty VALUE means absent.
pk_value() {
  if [ -n "$2" ]; then pk_section "$1" 0 "$2$pk_nl"; else pk_absent "$1"; fi
}

