
_cilium_lb_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _CILIUM_LB_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _cilium_lb_completion cilium-lb
