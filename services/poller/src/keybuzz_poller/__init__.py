"""KeyBuzz poller service: fetch new buyer messages for every connected tenant and store them once as tickets."""
