
#compdef cilium-lb

_cilium_lb_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _CILIUM_LB_COMPLETE=complete_zsh cilium-lb)
}

compdef _cilium_lb_completion cilium-lb
