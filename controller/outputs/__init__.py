"""L6 output drivers: frames of DMX universes onto Art-Net, sACN, serial DMX and OSC."""
