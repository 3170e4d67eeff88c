"""Settings → Members: who belongs to the account, invitations, role changes, removal, leaving.

The rules are accounts.services and accounts.invitations; these pages only translate their
answers into HTTP.
"""
