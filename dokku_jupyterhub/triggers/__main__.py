from dokku_jupyterhub.triggers import main

main()
