# shellcheck shell=sh
# Shared helpers of pikube's node scripts (facts, k3s state): POSIX sh,
# prints the sectioned format described in script.sh. Only defines functions.

export LC_ALL=C       # stable, untranslated command output
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

pk_nl='
'
pk_timeout=
if command -v timeout >/dev/null 2>&1; then pk_timeout='timeout 10'; fi

# pk_section NAME RC BODY: print BODY as a section, remembering whether it
# ended with a newline (the edits must preserve that byte for byte).
pk_section() {
  printf '@@begin %s\n' "$1"
  pk_eol=0
  if [ -n "$3" ]; then
    case $3 in
      *"$pk_nl") pk_eol=1; printf '%s' "$3" | sed 's/^/|/' ;;
      *) printf '%s\n' "$3" | sed 's/^/|/' ;;
    esac
  fi
  printf '@@end %s eol=%s rc=%s\n' "$1" "$pk_eol" "$2"
}

pk_absent() { printf '@@absent %s\n' "$1"; }

# pk_file NAME PATH: the file's exact content, or absent.
pk_file() {
  if [ -f "$2" ] && [ -r "$2" ]; then
    # The trailing "." keeps trailing newlines through command substitution.
    if pk_body=$(cat -- "$2" 2>/dev/null </dev/null && echo .); then
      pk_section "$1" 0 "${pk_body%.}"
      return 0
    fi
  fi
  pk_absent "$1"
}

# pk_cmd NAME COMMAND [ARGS...]: output and exit status, or absent when the
# command is not installed.
pk_cmd() {
  pk_name=$1; shift
  if command -v "$1" >/dev/null 2>&1; then
    pk_body=$($pk_timeout "$@" 2>/dev/null </dev/null; echo ".$?")
    pk_section "$pk_name" "${pk_body##*.}" "${pk_body%.*}"
  else
    pk_absent "$pk_name"
  fi
}

# pk_value NAME VALUE: a computed one-line fact; an empty VALUE means absent.
pk_value() {
  if [ -n "$2" ]; then pk_section "$1" 0 "$2$pk_nl"; else pk_absent "$1"; fi
}

