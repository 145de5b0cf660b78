# bash completion for sluicectl. Install as
# /usr/share/bash-completion/completions/sluicectl
_sluicectl() {
    local cur prev words cword
    _init_completion || return
    local commands="status stats top show policy set rule meter log call"
    local options="--socket --json --timeout --help"
    case $prev in
        --socket) _filedir sock; return ;;
        --timeout|--interval|--iterations) return ;;
        show) COMPREPLY=($(compgen -W "ports classes rules meters" -- "$cur")); return ;;
        policy) COMPREPLY=($(compgen -W "check load reload diff save" -- "$cur")); return ;;
        set) COMPREPLY=($(compgen -W "class" -- "$cur")); return ;;
        rule) COMPREPLY=($(compgen -W "add del move" -- "$cur")); return ;;
        meter) COMPREPLY=($(compgen -W "set" -- "$cur")); return ;;
        check|load|diff|save) _filedir toml; return ;;
        log) COMPREPLY=($(compgen -W "level" -- "$cur")); return ;;
        level) COMPREPLY=($(compgen -W "trace debug info warn error critical off" -- "$cur")); return ;;
        stats) COMPREPLY=($(compgen -W "--reset" -- "$cur")); return ;;
        call) COMPREPLY=($(compgen -W "status stats 'stats reset' 'show ports' 'log level'" -- "$cur")); return ;;
    esac
    local i have_command=
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in status|stats|top|show|policy|set|rule|meter|log|call) have_command=1 ;; esac
    done
    if [[ $cur == -* || -n $have_command ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$commands $options" -- "$cur"))
    fi
}
complete -F _sluicectl sluicectl
