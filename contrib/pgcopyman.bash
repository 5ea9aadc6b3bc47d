# bash completion for pgcopyman(1)                         -*- shell-script -*-
#
# Install as $(PREFIX)/share/bash-completion/completions/pgcopyman, or source
# it from ~/.bashrc.  Completes the commands, each command's options, the
# values of --format, --on-fault, --header-match, --encoding, --progress=,
# --compress, --max-row-size and --maintenance-work-mem, directories after
# --state-dir, and file names after file: in --from and --to (also as
# --from=file:PATH).  Needs nothing from the bash-completion package.

# _pgcopyman_words: the words up to the cursor, split on white space only, so
# that "file:PATH" and "--to=file:PATH" stay one word although COMP_WORDBREAKS
# holds ':' and '='.  Sets _pgcm_words (array) and _pgcm_cur.  Without
# COMP_LINE (a caller setting only COMP_WORDS and COMP_CWORD) COMP_WORDS is used.
_pgcopyman_words()
{
    local line
    _pgcm_words=()
    _pgcm_cur=
    if [[ -n ${COMP_LINE-} ]]; then
        line=${COMP_LINE:0:${COMP_POINT:-${#COMP_LINE}}}
        read -r -a _pgcm_words <<< "$line"
        if [[ -z $line || $line == *[[:space:]] ]]; then
            _pgcm_words+=("")
        fi
        _pgcm_cur=${_pgcm_words[${#_pgcm_words[@]}-1]}
    else
        _pgcm_words=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
        _pgcm_cur=${COMP_WORDS[COMP_CWORD]}
    fi
}

# _pgcopyman_endpoint: candidates for a --from/--to value: "-", "file:",
# "postgresql://", and after "file:" the file names.
_pgcopyman_endpoint()
{
    local value=$1 path f
    if [[ $value == file:* ]]; then
        path=${value#file:}
        while IFS= read -r f; do
            [[ -n $f ]] || continue
            if [[ -d $f ]]; then
                # A directory: let the user go on typing the name.
                COMPREPLY+=("file:$(printf '%q' "$f")/")
                compopt -o nospace 2>/dev/null
            else
                COMPREPLY+=("file:$(printf '%q' "$f")")
            fi
        done < <(compgen -f -- "$path")
    else
        COMPREPLY+=($(compgen -W '- file: postgresql://' -- "$value"))
        if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} != - ]]; then
            compopt -o nospace 2>/dev/null
        fi
    fi
}

# _pgcopyman_value: complete the value of option opt (the part of the word
# after any --opt=; $3 is "=" then); returns 1 when opt takes no value there.
_pgcopyman_value()
{
    local opt=$1 value=$2 eq=${3-}
    # listen's -j is --json (copy's is --jobs): no value follows it.
    [[ ${cmd-} == listen && $opt == -j ]] && return 1
    case $opt in
        --progress)
            # An optional value: only as --progress=json.
            [[ $eq == = ]] || return 1
            COMPREPLY+=($(compgen -W 'plain json' -- "$value")) ;;
        --compress)
            COMPREPLY+=($(compgen -W '1 3 6 9 19' -- "$value")) ;;
        --from|--to)
            if [[ ${cmd-} == compare ]]; then
                # compare reads servers only
                COMPREPLY+=($(compgen -W 'postgresql://' -- "$value"))
                compopt -o nospace 2>/dev/null
            else
                _pgcopyman_endpoint "$value"
            fi ;;
        -f|--format)
            COMPREPLY+=($(compgen -W 'auto text csv binary' -- "$value")) ;;
        --on-fault)
            COMPREPLY+=($(compgen -W 'continue abort' -- "$value")) ;;
        --header-match)
            COMPREPLY+=($(compgen -W 'on off' -- "$value")) ;;
        --encoding)
            COMPREPLY+=($(compgen -W 'UTF8 LATIN1 LATIN9 SQL_ASCII WIN1252 EUC_JP SJIS' -- "$value")) ;;
        --maintenance-work-mem)
            COMPREPLY+=($(compgen -W '256MB 512MB 1GB 2GB 4GB' -- "$value")) ;;
        --state-dir)
            COMPREPLY+=($(compgen -d -- "$value")) ;;
        -t|--table|--target-table|-c|--columns|-q|--query|--delimiter|--quote|--escape|\
        --null|--stall-timeout|--segment-size|--conn|-i|--idle|-j|--jobs|--split-key|\
        -n|--schema|-T|--exclude-table|-N|--exclude-schema|--snapshot)
            ;;  # free text: nothing to offer
        --max-row-size)
            COMPREPLY+=($(compgen -W '1MB 16MB 64MB 256MB 1GB' -- "$value")) ;;
        *)
            return 1 ;;
    esac
    return 0
}

_pgcopyman()
{
    local cur prev cmd opts i w bcur strip
    local -a _pgcm_words
    local _pgcm_cur
    COMPREPLY=()
    _pgcopyman_words
    cur=$_pgcm_cur
    prev=
    if [[ ${#_pgcm_words[@]} -ge 2 ]]; then
        prev=${_pgcm_words[${#_pgcm_words[@]}-2]}
    fi

    # The command: the first word after "pgcopyman" that is not an option.
    cmd=
    for ((i = 1; i < ${#_pgcm_words[@]} - 1; i++)); do
        w=${_pgcm_words[i]}
        if [[ $w != -* ]]; then
            cmd=$w
            break
        fi
    done

    case $cmd in
        copy)
            opts='--from --to --table -t --target-table --columns -c --query -q
                  --format -f --header --header-match --delimiter --quote --escape
                  --null --encoding --truncate --no-defer-indexes --defer-foreign-keys
                  --maintenance-work-mem --no-sequences --on-fault --stall-timeout
                  --segment-size --jobs -j --split-key --max-row-size --compress
                  --state-dir --verify --json --progress --progress=json --dry-run --quiet
                  --password -W --no-password -w --help -h' ;;
        compare)
            opts='--from --to --table -t --schema -n --exclude-table -T
                  --exclude-schema -N --snapshot --json --quiet --password -W
                  --no-password -w --help -h' ;;
        recover)
            opts='--to --state-dir --dry-run --password -W --no-password -w --help -h' ;;
        listen)
            opts='--conn -c --idle -i --json -j --password -W --no-password -w --help -h' ;;
        notify)
            opts='--conn -c --password -W --no-password -w --help -h' ;;
        '')
            opts='--help --version' ;;
        *)
            return 0 ;;
    esac

    if [[ -n $cmd && $cur == --*=* ]]; then
        # --opt=value
        if _pgcopyman_value "${cur%%=*}" "${cur#*=}" =; then
            for i in "${!COMPREPLY[@]}"; do
                COMPREPLY[i]="${cur%%=*}=${COMPREPLY[i]}"
            done
        fi
    elif [[ -n $cmd && -n $prev ]] && _pgcopyman_value "$prev" "$cur"; then
        :
    elif [[ -z $cmd && $cur != -* ]]; then
        COMPREPLY=($(compgen -W 'compare copy listen notify recover' -- "$cur"))
    elif [[ $cur == -* || -z $cur ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    fi

    # Bash replaces only the part of the word after the last ':' or '='
    # (COMP_WORDBREAKS): hand back the candidates without what comes before.
    if [[ -n ${COMP_LINE-} ]]; then
        bcur=${COMP_WORDS[COMP_CWORD]-}
        if [[ $bcur == : || $bcur == = ]]; then
            bcur=
        fi
        if [[ $cur != "$bcur" && $cur == *"$bcur" ]]; then
            strip=${cur%"$bcur"}
            for i in "${!COMPREPLY[@]}"; do
                COMPREPLY[i]=${COMPREPLY[i]#"$strip"}
            done
        fi
    fi
    return 0
} &&
complete -F _pgcopyman pgcopyman
