; Inno Setup script (Inno Setup 6.3 or later) for the Windows installer.
; First build the bundle on Windows:  pyinstaller --noconfirm --distpath dist --workpath build installers\sweeplab.spec
; then:  iscc /DAppVersion=0.1.0 installers\windows\sweeplab.iss
; Output: dist\sweeplab-<version>-windows-x64-setup.exe. Paths are relative to this file.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
; AppId identifies the app for upgrades and uninstall: never change it.
AppId={{0A07BBC6-9E5E-4544-A753-D0FA027D39A0}
AppName=Sweeplab
AppVersion={#AppVersion}
AppVerName=Sweeplab {#AppVersion}
AppPublisher=Sweeplab
DefaultDirName={autopf}\Sweeplab
DefaultGroupName=Sweeplab
DisableProgramGroupPage=yes
; per-user install by default, all users when the user elevates
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
SetupIconFile=..\..\resources\sweeplab.ico
UninstallDisplayIcon={app}\sweeplab-gui.exe
OutputDir=..\..\dist
OutputBaseFilename=sweeplab-{#AppVersion}-windows-x64-setup
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\sweeplab\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Sweeplab"; Filename: "{app}\sweeplab-gui.exe"
Name: "{group}\{cm:UninstallProgram,Sweeplab}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Sweeplab"; Filename: "{app}\sweeplab-gui.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\sweeplab-gui.exe"; Description: "{cm:LaunchProgram,Sweeplab}"; Flags: nowait postinstall skipifsilent
