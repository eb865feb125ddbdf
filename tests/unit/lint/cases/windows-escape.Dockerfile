# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
RUN pip install --no-cache-dir `
    transformers==4.57.1
COPY app C:\app\
USER ContainerUser
